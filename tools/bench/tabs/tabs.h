/*
 * cb-bench-tabs' parts (tools/bench/cb-bench-tabs.c says what it measures):
 * the state of a run, and what each part offers the others.  net.c: the
 * keep-alive HTTP senders; tab.c: the tabs' WebSockets; phase.c: one
 * phase's loop (idle, load, approve); approve.c: the approve phase's
 * poller and clicks; report.c: the percentiles printed.  One process, one
 * thread: nothing here locks.
 */
#ifndef CB_BENCH_TABS_H
#define CB_BENCH_TABS_H

#include <stddef.h>

#include "slackclick.h"
#include "ws.h"

#define TABS_MAX	1000
#define SENDERS_MAX	512
#define HTTP_IN_MAX	65536
/* The approve phase's poller reads many Slack messages at once. */
#define POLL_IN_MAX	(8u << 20)
#define HTTP_OUT_MAX	(SLACKCLICK_BODY_MAX + 1024)
#define SETUP_MS	10000
/* The load phase stops offering this long after its last due time. */
#define LOAD_OVERRUN_MS	30000.0
/* status of a command the load phase gave up sending */
#define CMD_UNSENT	(-3)

struct cmd {
	double		 t_due, t_sent, t_202, t_frame;
	long long	 seq;		/* from the 202; 0 until then */
	int		 status;	/* HTTP status; 0 unanswered, -1 I/O error */
	int		 tab;
	int		 window_wait;	/* 2+ earlier commands of its tab not framed at its 202 */
	/* The approve phase: */
	char		 id[40];	/* the command's id (the 202) */
	char		 value[112];	/* its message's button value, "<approval>:<hash>" */
	double		 w_sent, w_msg;	/* wall clock ms: sent, its message at the fake */
	double		 t_click, t_clicked;
	int		 click_status;	/* 0 unanswered, -1 I/O error */
};

struct tab {
	struct ws	 w;
	char		 ctx[40];
	char		 token[160];
	int		 dead;
	/* By seq: the command that got it, and when its frame came. */
	struct cmd	**cmd_at;
	double		*frame_at;
	size_t		 nseq;
	long long	 accepted, framed;
};

enum snd_kind { SND_COMMAND, SND_CLICK, SND_POLL };

struct sender {
	int		 fd;
	const char	*host;
	int		 port;
	struct cmd	*c;		/* in flight, or NULL */
	enum snd_kind	 kind;		/* of what is in flight */
	int		 busy;		/* the poller: a request in flight */
	char		 out[HTTP_OUT_MAX];
	size_t		 out_len, out_off;
	char		*in;		/* in_cap + 1 bytes */
	size_t		 in_len, in_cap;
	int		 reconnects;
};

struct bench {
	const char	*form, *key;
	char		 host[64];
	int		 port;
	int		 ntabs, nsenders, rate, seconds, nidle, idle_gap_ms, drain_ms, window;
	struct tab	*tabs;
	struct sender	*snd;
	long long	 nonce;
	long long	 frames_unknown, channel_errors, http_errors, reconnects;
	/* The running phase: commands answered, and those finished (framed or refused). */
	int		 answered, finished;
	/* --approve: the fake Slack, the signing secret, the clicking member. */
	int		 approve, poll_ms;
	char		 fhost[64];
	int		 fport;
	const char	*fake_url, *secret, *slack_user;
	struct sender	 poll;
	long long	 msg_since, clicks_failed, msgs_unknown;
	double		 poll_at;
	struct cmd	**clickq;	/* messages seen, not clicked yet */
	int		 nclickq;
	struct cmd	*cmds;		/* the running phase's */
	int		 ncmds;
};

struct phase {
	const char	*name;
	struct cmd	*cmds;
	int		 n;
	int		 open_loop;	/* load: due times fixed in advance */
};

/* The keep-alive HTTP senders (net.c); die: a failed setup, exit 1. */
void	die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int	snd_connect(struct bench *b, struct sender *s);
void	snd_close(struct sender *s);
int	snd_request_h(struct sender *s, const char *method, const char *path,
	    const char *headers, const char *body);
int	snd_request(struct sender *s, const char *method, const char *path,
	    const char *auth, const char *body);
int	snd_flush(struct sender *s);
int	http_parse(struct sender *s, int *status, char **body, size_t *blen, size_t *used,
	    int *close_);
void	snd_consume(struct sender *s, size_t n);
int	snd_read(struct sender *s);
int	http_once(struct bench *b, struct sender *s, const char *method, const char *path,
	    const char *auth, const char *body, char **out);

/* The tabs (tab.c). */
void	tab_grow(struct tab *t, long long seq);
void	tabs_open(struct bench *b);
void	tab_read(struct bench *b, struct tab *t);

/* One phase (phase.c). */
void	phase_run(struct bench *b, struct phase *p);

/* The approve phase (approve.c). */
void	click_answered(struct bench *b, struct cmd *c, int status, const char *body,
	    size_t blen, double now);
void	click_send(struct bench *b, struct sender *s, struct cmd *c, double now);
void	poll_send(struct bench *b, double now);
void	poll_event(struct bench *b, double now);

/* The report (report.c). */
void	phase_report(const struct phase *p);
void	approve_report(const struct bench *b, const struct phase *p);

#endif
