/*
 * metrics: the node's counters in shared memory, and their Prometheus text.
 *
 * Every supervised service (a responder, the worker) keeps one segment: a
 * file `<service>.<master pid>.seg` under CB_METRICS_DIR that the master
 * creates before it forks and maps MAP_SHARED, so every child shares it.
 * The segment has a fixed layout (struct metrics_seg: a header with a magic
 * number and a version, then one slot per child).  A child writes only its
 * own slot, chosen by its place in the supervisor's table, never by its pid:
 * a child that dies and is respawned keeps adding to the same slot, so what
 * a dead child counted stays in the sums.  Gauges of a slot (open
 * WebSockets) are zeroed when a new child takes it, since they describe the
 * living process only.  The master unlinks its segment when it stops; a
 * segment whose master is gone is skipped by the scrape.
 *
 * The hot path is a few relaxed atomic additions on the caller's own slot:
 * no lock, no allocation, no system call.  Without a segment (no
 * CB_METRICS_DIR, or a tool) every call is a no-op.
 *
 * The scrape (cgi/metrics.c) reads every segment of the directory, sums the
 * slots of each service (and the services' route tables by label), and
 * writes the Prometheus text exposition format 0.0.4: HELP and TYPE once per
 * family, escaped label values, cumulative histogram buckets ending in +Inf,
 * _sum and _count.
 */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_MAGIC		0x43424d31u	/* "CBM1" */
#define METRICS_VERSION		1u
#define METRICS_SLOTS_MAX	64
#define METRICS_ROUTES_MAX	16
#define METRICS_PATTERN_MAX	96
#define METRICS_SERVICE_MAX	32
#define METRICS_COUNTERS_MAX	128

/* Upper bounds of the latency buckets, seconds; +Inf follows. */
#define METRICS_NBUCKETS	13
extern const double metrics_bucket_le[METRICS_NBUCKETS];

/*
 * Statuses counted one by one; any other code counts under its class
 * ("2xx" .. "5xx"), so status=~"5.." still matches every server error.
 */
#define METRICS_NSTATUS		35

/* The counter and gauge families (label values in metrics.c's table). */
enum metrics_family {
	MF_DELIVERIES,		/* cb_outbox_deliveries_total{sink,outcome} */
	MF_DEAD_LETTERS,	/* cb_dead_letters_total{sink} */
	MF_SF_TOKEN_MINTS,	/* cb_sf_token_mints_total */
	MF_SF_TOKEN_HITS,	/* cb_sf_token_cache_hits_total */
	MF_REFUSALS,		/* cb_rate_limited_total{class} */
	MF_WS_OPENED,		/* cb_ws_connections_opened_total */
	MF_WS_OPEN,		/* cb_ws_connections (gauge) */
	MF_COMMANDS,		/* cb_commands_total{state} */
	MF_APPROVALS,		/* cb_approvals_total{outcome} */
	MF_PG_ERRORS,		/* cb_postgres_errors_total */
	MF_REDIS_ERRORS,	/* cb_redis_errors_total */
	MF__COUNT
};

/* Label values of the families above, in their tables' order. */
enum metrics_sink { MS_SALESFORCE, MS_SLACK, MS_WEBHOOK, MS_OTHER };
enum metrics_outcome { MO_DONE, MO_RETRY, MO_DEAD, MO_GIVEN_BACK };
enum metrics_cmd_state { MC_QUEUED, MC_PENDING_APPROVAL, MC_APPLIED, MC_FAILED, MC_GIVEN_UP };
enum metrics_approval { MA_APPROVED, MA_DENIED, MA_EXPIRED };

/* Histograms other than the per-route latency. */
enum metrics_hist_id {
	MH_SF_CALL,		/* cb_salesforce_request_duration_seconds */
	MH_CMD_APPLY,		/* cb_command_apply_seconds */
	MH__COUNT
};

struct metrics_hist {
	_Atomic uint64_t	 bucket[METRICS_NBUCKETS + 1];	/* per bucket, last: +Inf */
	_Atomic uint64_t	 count;
	_Atomic uint64_t	 sum_us;			/* microseconds */
};

struct metrics_slot {
	_Atomic uint64_t	 starts;		/* children that took this slot */
	_Atomic uint64_t	 c[METRICS_COUNTERS_MAX];	/* gauges: two's complement */
	_Atomic uint64_t	 req[METRICS_ROUTES_MAX][METRICS_NSTATUS];
	struct metrics_hist	 lat[METRICS_ROUTES_MAX];
	struct metrics_hist	 h[MH__COUNT];
} __attribute__((aligned(64)));

struct metrics_route {
	char	 method[8];
	char	 pattern[METRICS_PATTERN_MAX];
};

struct metrics_seg {
	_Atomic uint32_t	 magic;		/* set last: a reader sees a whole header */
	uint32_t		 version;
	uint64_t		 size;		/* bytes of the whole segment */
	int64_t			 pid;		/* the master's */
	uint32_t		 nslots;
	uint32_t		 nroutes;
	char			 service[METRICS_SERVICE_MAX];
	struct metrics_route	 routes[METRICS_ROUTES_MAX];
	struct metrics_slot	 slots[];
};

/*
 * In the master, before it forks: create and map dir/<service>.<pid>.seg
 * with nslots slots and the route labels (method, pattern pairs; NULL
 * routes with nroutes 0).  dir NULL or "": metrics are off, CB_OK.
 * CB_ERR_CONFIG with err set when the file cannot be made.
 */
int	 metrics_open(const char *dir, const char *service, unsigned nslots,
	    const struct metrics_route *routes, unsigned nroutes, char *err, size_t errsz);
/* In a child after fork: write to slot `i` from now on (its gauges zeroed). */
void	 metrics_enter(unsigned i);
/* In the master when it stops: unmap and unlink the segment. */
void	 metrics_close(void);

/* The hot path: no-ops without a segment.  i, j: label value indexes. */
void	 metrics_add(enum metrics_family, unsigned i, unsigned j, int64_t n);
void	 metrics_request(unsigned route, int status, double seconds);
void	 metrics_observe(enum metrics_hist_id, double seconds);
/* The label index of a sink by name ("salesforce", "slack", "webhook"). */
enum metrics_sink metrics_sink_of(const char *name);

/* The scrape: every live segment of dir, folded by service. */
struct metrics_view;
struct metrics_view *metrics_collect(const char *dir);
void	 metrics_view_free(struct metrics_view *);
/* How many segments a view folded (what a test checks every process kind by). */
size_t	 metrics_view_segments(const struct metrics_view *);
/*
 * A family's value in a view, summed over its label values (a gauge read
 * as signed): what the operator console shows of MF_WS_OPEN.
 */
int64_t	 metrics_view_total(const struct metrics_view *, enum metrics_family);
/* Write the whole exposition of the view (build info included). */
void	 metrics_expose(struct buf *, const struct metrics_view *);

/* The writer, for families the scrape computes itself (gauges from Postgres). */
struct metrics_label {
	const char	*name;
	const char	*value;
};

void	 metrics_family_head(struct buf *, const char *name, const char *type,
	    const char *help);
/* name{k1="v1",...} value */
void	 metrics_sample(struct buf *, const char *name, const struct metrics_label *,
	    size_t nlabels, double value);
/* A label value escaped as the format requires: \\, \", \n. */
void	 metrics_escape(struct buf *, const char *);
/* One histogram's lines from cumulative-free buckets (the writer sums them). */
void	 metrics_histogram(struct buf *, const char *name, const struct metrics_label *,
	    size_t nlabels, const uint64_t bucket[METRICS_NBUCKETS + 1], uint64_t count,
	    uint64_t sum_us);

#endif
