/*
 * hk.h: what the parts of cb-fake-hooks (tests/fakes/cb-fake-hooks.c and
 * the files of tests/fakes/hooks/) share: the configuration, the state
 * under hk.lock, and the functions one part calls in another.  Nothing
 * here is used outside cb-fake-hooks.
 */
#ifndef CB_FAKE_HOOKS_HK_H
#define CB_FAKE_HOOKS_HK_H

#include <pthread.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"

#include "../common/fakehttpd.h"
#include "../common/fakeplane.h"


#define HK_ENDPOINTS_MAX	64
#define HK_SECRETS_MAX		4
#define HK_KEY_MAX		512	/* decoded secret bytes */
#define HK_NAME_MAX		64
#define HK_FAULTS_MAX		64
#define HK_STORED_DEFAULT	10000
#define HK_STORED_BYTES_MAX	(256u * 1024u * 1024u)	/* bodies kept, all told */
#define HK_TOLERANCE_S		300	/* CONTRACTS §2.1 */
#define HK_HEADER_MAX		1024	/* webhook-id, -timestamp, -signature */
#define HK_SIGS_MAX		16
#define HK_TOKEN_MAX		256
#define HK_WEBHOOK_PATH		"/services/T000/B000/XXXX"
#define HK_SLACK_JSON		"application/json; charset=utf-8"

/* ---- configuration (written by main before any thread starts) -------- */

struct hk_cfg {
	int		 port;
	long		 tolerance_s;
	size_t		 max_stored;
	char		 slack_token[HK_TOKEN_MAX];
	char		 webhook_path[256];
};
extern struct hk_cfg cfg;

/* ---- state (all under hk.lock) ---------------------------------------- */

enum hk_target { HT_HOOK, HT_SLACK_API, HT_SLACK_WEBHOOK, HT_SLACK, HT_ANY };
/*
 * HF_LOST_ANSWER (chat.postMessage only): the message is posted and
 * recorded, then (after latency_ms, if given) the connection closes
 * without an answer, as when the sender died or timed out after Slack
 * took it.
 */
enum hk_kind { HF_STATUS, HF_DROP, HF_LATENCY, HF_SLACK_ERROR, HF_LOST_ANSWER, HF__COUNT };
/* What a request is, for faults. */
enum hk_call { HC_NONE, HC_HOOK, HC_SLACK_API, HC_SLACK_WEBHOOK };

struct hk_fault {
	long	 count;		/* first: uses left (fakeplane's queue) */
	int	 target;
	char	 endpoint[HK_NAME_MAX + 1];	/* HT_HOOK: "" = any endpoint */
	int	 kind;
	int	 status;
	long	 latency_ms;
	long	 retry_after_s;
	char	 location[256];
	char	 error[64];
};

struct hk_endpoint {
	char		 name[HK_NAME_MAX + 1];
	unsigned char	 keys[HK_SECRETS_MAX][HK_KEY_MAX];
	size_t		 keylen[HK_SECRETS_MAX];
	size_t		 nkeys;
	int		 status;	/* the answer to a verified delivery */
	long		 received;
};

struct hk_delivery {
	long	 seq;
	char	 endpoint[HK_NAME_MAX + 1];
	char	*id;
	char	*timestamp;
	char	*type;
	char	*body;
	size_t	 body_len;
	int	 known;
	int	 verified;
	int	 secret_index;
	int	 duplicate;
	int	 status;	/* 0: dropped */
	char	 reason[40];
	char	 fault[16];
	char	 received_at[40];
};

struct hk_message {
	long	 seq;
	char	 via[24];
	char	*channel;
	char	*text;
	cJSON	*blocks;
	cJSON	*metadata;	/* chat.postMessage's message metadata, or NULL */
	char	 chan_id[24];	/* the channel's id ("#name" hashed into one) */
	char	 ts[32];
	int	 ok;
	char	 error[64];
	int	 status;
	char	 received_at[40];
};

struct hk_state {
	pthread_mutex_t	 lock;
	struct hk_endpoint endpoints[HK_ENDPOINTS_MAX];
	size_t		 nendpoints;
	struct hk_fault	 faults[HK_FAULTS_MAX];
	struct fp_queue	 fq;
	struct hk_delivery *deliveries;
	size_t		 ndeliveries, stored_bytes;
	struct hk_message *messages;
	size_t		 nmessages;
	char		**seen;		/* "endpoint\nid", open addressing */
	size_t		 seen_cap, nseen;
	long		 seq, ts_counter;
	long		 deliveries_total, verified, rejected, duplicates;
	long		 unknown_endpoint;
	long		 slack_api_calls, slack_webhook_calls, slack_posted;
	long		 slack_errors, slack_history_calls;
};
extern struct hk_state hk;


/* The names the control plane takes and shows. */
extern const char *const kind_names[HF__COUNT];
extern const char *const target_names[HT_ANY + 1];

/* ---- helpers and faults (cb-fake-hooks.c) ---- */

char	*hk_strndup_or_null(const char *s, size_t n);
/* Endpoint names: [A-Za-z0-9_-]{1,64}. */
int	 hk_name_ok(const char *s);
/* Caller holds the lock. */
struct hk_endpoint *hk_endpoint_find(const char *name);
/* The first queued fault that hits this call (endpoint: a receiver's name). */
int	 hk_take_fault(int call, const char *endpoint, struct hk_fault *out);

/* ---- the store (hooks/store.c); callers hold hk.lock ---- */

size_t	 hk_hash(const char *s);
int	 hk_seen_before(const char *endpoint, const char *id);
void	 hk_delivery_free(struct hk_delivery *);
void	 hk_message_free(struct hk_message *);
void	 hk_store_delivery(struct hk_delivery *);
void	 hk_store_message(struct hk_message *);
void	 hk_clear_all(void);

/* ---- Standard Webhooks receivers (hooks/receiver.c) ---- */

int	 hk_b64_decode(const char *s, size_t n, unsigned char *out, size_t outsz, size_t *len);
void	 hk_apply_fault(const struct hk_fault *, int call, const char *endpoint, struct fh_resp *);
void	 hk_hook(struct fh_req *, struct fh_resp *, const char *name);

/* ---- the fake Slack (hooks/slack.c) ---- */

void	 hk_post_message(struct fh_req *, struct fh_resp *);
void	 hk_history(struct fh_req *, struct fh_resp *);
void	 hk_incoming_webhook(struct fh_req *, struct fh_resp *);
void	 hk_response_url(struct fh_req *, struct fh_resp *);
/* The n-th '/'-separated segment of a path (from 0, after the leading '/'). */
size_t	 hk_segment(const char *path, int nth, const char **seg);

/* ---- the control plane (hooks/control.c) ---- */

void	 hk_control(struct fh_req *, struct fh_resp *);

#endif
