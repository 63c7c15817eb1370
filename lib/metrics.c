/*
 * metrics: see metrics.h.  The segment is the only state shared between
 * processes; this process's pointers to it (like log.c's settings) are the
 * module's only globals.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errs.h"
#include "metrics.h"
#include "util.h"

#ifndef CB_COMMIT
#define CB_COMMIT "unknown"
#endif

const double metrics_bucket_le[METRICS_NBUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 2.5, 5, 10
};

/* Statuses with a series of their own, then the classes 1xx..5xx. */
static const int metrics_codes[] = {
	200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 406, 408, 409, 410, 412, 413, 415, 422, 428, 429,
	500, 502, 503, 504
};
#define METRICS_NCODES	(sizeof(metrics_codes) / sizeof(metrics_codes[0]))
_Static_assert(METRICS_NCODES + 5 == METRICS_NSTATUS, "METRICS_NSTATUS: codes + 5 classes");

static const char *const mv_sink[] = { "salesforce", "slack", "webhook", "other" };
static const char *const mv_outcome[] = { "done", "retry", "dead", "given_back" };
static const char *const mv_class[] = { "unset", "anonymous", "tab", "agent", "admin",
	"webhook", "operator" };
static const char *const mv_cmd[] = { "queued", "pending_approval", "applied", "failed",
	"given_up" };
static const char *const mv_approval[] = { "approved", "denied", "expired" };

#define MV(a)	(a), (unsigned)(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char		*name;
	const char		*type;
	const char		*help;
	const char		*l1;
	const char *const	*v1;
	unsigned		 n1;
	const char		*l2;
	const char *const	*v2;
	unsigned		 n2;
} metrics_fams[MF__COUNT] = {
	[MF_DELIVERIES] = { "cb_outbox_deliveries_total", "counter",
	    "Outbox rows whose delivery attempt ended, by sink and outcome.",
	    "sink", MV(mv_sink), "outcome", MV(mv_outcome) },
	[MF_DEAD_LETTERS] = { "cb_dead_letters_total", "counter",
	    "Outbox rows dead-lettered (out of attempts or refused for good), by sink.",
	    "sink", MV(mv_sink), NULL, NULL, 1 },
	[MF_SF_TOKEN_MINTS] = { "cb_sf_token_mints_total", "counter",
	    "Salesforce access tokens minted (JWT bearer flow).", NULL, NULL, 1, NULL, NULL, 1 },
	[MF_SF_TOKEN_HITS] = { "cb_sf_token_cache_hits_total", "counter",
	    "Salesforce token requests served by a cached token (no mint).",
	    NULL, NULL, 1, NULL, NULL, 1 },
	[MF_REFUSALS] = { "cb_rate_limited_total", "counter",
	    "Requests refused 429 by a rate limit or quota in a responder, by rate class.",
	    "class", MV(mv_class), NULL, NULL, 1 },
	[MF_WS_OPENED] = { "cb_ws_connections_opened_total", "counter",
	    "Tab WebSocket connections accepted.", NULL, NULL, 1, NULL, NULL, 1 },
	[MF_WS_OPEN] = { "cb_ws_connections", "gauge",
	    "Tab WebSocket connections open now.", NULL, NULL, 1, NULL, NULL, 1 },
	[MF_COMMANDS] = { "cb_commands_total", "counter",
	    "Agent commands that entered a state: accepted queued or pending_approval, "
	    "applied or failed by the tab's receipt, given_up (dead or expired unanswered).",
	    "state", MV(mv_cmd), NULL, NULL, 1 },
	[MF_APPROVALS] = { "cb_approvals_total", "counter",
	    "Approvals decided, by outcome (expired: nobody decided in time).",
	    "outcome", MV(mv_approval), NULL, NULL, 1 },
	[MF_PG_ERRORS] = { "cb_postgres_errors_total", "counter",
	    "Postgres statements that failed for want of the server (down, timeout, broken "
	    "connection).", NULL, NULL, 1, NULL, NULL, 1 },
	[MF_REDIS_ERRORS] = { "cb_redis_errors_total", "counter",
	    "Redis commands that failed (down, timeout, breaker open).",
	    NULL, NULL, 1, NULL, NULL, 1 },
};

static const struct {
	const char	*name;
	const char	*help;
} metrics_hists[MH__COUNT] = {
	[MH_SF_CALL] = { "cb_salesforce_request_duration_seconds",
	    "Duration of Salesforce sObject Collections calls, seconds." },
	[MH_CMD_APPLY] = { "cb_command_apply_seconds",
	    "From a command's first frame to the tab's applied receipt, seconds." },
};

static unsigned			 metrics_base[MF__COUNT];
static struct metrics_seg	*metrics_seg;	/* this service's segment */
static struct metrics_slot	*metrics_cur;	/* this process's slot */
static size_t			 metrics_size;
static char			 metrics_path[512];

static void
metrics_bases(void)
{
	unsigned	 f, off = 0;

	for (f = 0; f < MF__COUNT; f++) {
		metrics_base[f] = off;
		off += metrics_fams[f].n1 * metrics_fams[f].n2;
	}
	if (off > METRICS_COUNTERS_MAX)
		abort();	/* a family table larger than the layout: a build error */
}

static size_t
metrics_seg_size(unsigned nslots)
{
	return sizeof(struct metrics_seg) + (size_t)nslots * sizeof(struct metrics_slot);
}

/* The pid of dir/<service>.<pid>.seg, or 0 when the name is not one. */
static long
metrics_name_pid(const char *name, const char *service)
{
	size_t		 n = strlen(service), len = strlen(name);
	long long	 pid;
	char		 num[24];

	if (len <= n + 5 || strcmp(name + len - 4, ".seg") != 0)
		return 0;
	if (service[0] != '\0' && (strncmp(name, service, n) != 0 || name[n] != '.'))
		return 0;
	if (service[0] == '\0') {
		const char *dot = strchr(name, '.');

		if (dot == NULL)
			return 0;
		n = (size_t)(dot - name);
	}
	if (len - n - 5 >= sizeof(num))
		return 0;
	memcpy(num, name + n + 1, len - n - 5);
	num[len - n - 5] = '\0';
	if (util_parse_ll(num, 1, 4194304, &pid) != CB_OK)
		return 0;
	return (long)pid;
}

static int
metrics_pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Segments of this service left by a master that is gone (killed -9). */
static void
metrics_sweep(const char *dir, const char *service)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[512];
	long		 pid;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if ((pid = metrics_name_pid(e->d_name, service)) == 0 || metrics_pid_alive(pid))
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) < sizeof(p))
			(void)unlink(p);
	}
	closedir(d);
}

int
metrics_open(const char *dir, const char *service, unsigned nslots,
    const struct metrics_route *routes, unsigned nroutes, char *err, size_t errsz)
{
	struct metrics_seg	*s;
	void			*p;
	size_t			 size;
	unsigned		 i;
	int			 fd;

	metrics_bases();
	if (dir == NULL || *dir == '\0')
		return CB_OK;
	if (nslots == 0 || nslots > METRICS_SLOTS_MAX || nroutes > METRICS_ROUTES_MAX ||
	    strlen(service) >= METRICS_SERVICE_MAX || strchr(service, '.') != NULL) {
		snprintf(err, errsz, "metrics: %s: %u slots and %u routes (at most %d and %d)",
		    service, nslots, nroutes, METRICS_SLOTS_MAX, METRICS_ROUTES_MAX);
		return CB_ERR_CONFIG;
	}
	metrics_sweep(dir, service);
	if ((size_t)snprintf(metrics_path, sizeof(metrics_path), "%s/%s.%ld.seg", dir, service,
	    (long)getpid()) >= sizeof(metrics_path)) {
		snprintf(err, errsz, "CB_METRICS_DIR is too long");
		return CB_ERR_CONFIG;
	}
	size = metrics_seg_size(nslots);
	(void)unlink(metrics_path);
	if ((fd = open(metrics_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errsz, "CB_METRICS_DIR: %s: %s", metrics_path, strerror(errno));
		return CB_ERR_CONFIG;
	}
	if (ftruncate(fd, (off_t)size) != 0 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		snprintf(err, errsz, "CB_METRICS_DIR: %s: %s", metrics_path, strerror(errno));
		close(fd);
		(void)unlink(metrics_path);
		return CB_ERR_CONFIG;
	}
	close(fd);
	s = p;
	s->version = METRICS_VERSION;
	s->size = size;
	s->pid = (int64_t)getpid();
	s->nslots = nslots;
	s->nroutes = nroutes;
	util_strlcpy(s->service, service, sizeof(s->service));
	for (i = 0; i < nroutes; i++)
		s->routes[i] = routes[i];
	atomic_store_explicit(&s->magic, METRICS_MAGIC, memory_order_release);
	metrics_seg = s;
	metrics_size = size;
	return CB_OK;
}

void
metrics_enter(unsigned i)
{
	unsigned	 k, base = metrics_base[MF_WS_OPEN];

	if (metrics_seg == NULL || i >= metrics_seg->nslots)
		return;
	metrics_cur = &metrics_seg->slots[i];
	atomic_fetch_add_explicit(&metrics_cur->starts, 1, memory_order_relaxed);
	for (k = 0; k < metrics_fams[MF_WS_OPEN].n1 * metrics_fams[MF_WS_OPEN].n2; k++)
		atomic_store_explicit(&metrics_cur->c[base + k], 0, memory_order_relaxed);
}

void
metrics_close(void)
{
	if (metrics_seg == NULL)
		return;
	munmap(metrics_seg, metrics_size);
	(void)unlink(metrics_path);
	metrics_seg = NULL;
	metrics_cur = NULL;
}

void
metrics_add(enum metrics_family f, unsigned i, unsigned j, int64_t n)
{
	if (metrics_cur == NULL || (unsigned)f >= MF__COUNT || i >= metrics_fams[f].n1 ||
	    j >= metrics_fams[f].n2)
		return;
	atomic_fetch_add_explicit(&metrics_cur->c[metrics_base[f] + i * metrics_fams[f].n2 + j],
	    (uint64_t)n, memory_order_relaxed);
}

static unsigned
metrics_status_index(int status)
{
	unsigned	 i;
	int		 cls;

	for (i = 0; i < METRICS_NCODES; i++)
		if (metrics_codes[i] == status)
			return i;
	cls = status / 100;
	if (cls < 1 || cls > 5)
		cls = 5;
	return (unsigned)(METRICS_NCODES + (unsigned)cls - 1);
}

static void
metrics_hist_add(struct metrics_hist *h, double seconds)
{
	unsigned	 b;

	if (seconds < 0)
		seconds = 0;
	for (b = 0; b < METRICS_NBUCKETS && seconds > metrics_bucket_le[b]; b++)
		;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5),
	    memory_order_relaxed);
}

void
metrics_request(unsigned route, int status, double seconds)
{
	if (metrics_cur == NULL || route >= metrics_seg->nroutes)
		return;
	atomic_fetch_add_explicit(&metrics_cur->req[route][metrics_status_index(status)], 1,
	    memory_order_relaxed);
	metrics_hist_add(&metrics_cur->lat[route], seconds);
}

void
metrics_observe(enum metrics_hist_id id, double seconds)
{
	if (metrics_cur == NULL || (unsigned)id >= MH__COUNT)
		return;
	metrics_hist_add(&metrics_cur->h[id], seconds);
}

enum metrics_sink
metrics_sink_of(const char *name)
{
	unsigned	 i;

	for (i = 0; i < MS_OTHER; i++)
		if (strcmp(mv_sink[i], name) == 0)
			return (enum metrics_sink)i;
	return MS_OTHER;
}

/* ------------------------------------------------------------ the scrape */

struct metrics_phist {
	uint64_t	 bucket[METRICS_NBUCKETS + 1];
	uint64_t	 count;
	uint64_t	 sum_us;
};

struct metrics_vsvc {
	char			 service[METRICS_SERVICE_MAX];
	unsigned		 nroutes;
	struct metrics_route	 routes[METRICS_ROUTES_MAX];
	uint64_t		 starts;
	uint64_t		 req[METRICS_ROUTES_MAX][METRICS_NSTATUS];
	struct metrics_phist	 lat[METRICS_ROUTES_MAX];
};

#define METRICS_VIEW_SERVICES	64

struct metrics_view {
	size_t			 nseg;
	size_t			 nsvc;
	struct metrics_vsvc	 svc[METRICS_VIEW_SERVICES];
	uint64_t		 c[METRICS_COUNTERS_MAX];
	struct metrics_phist	 h[MH__COUNT];
};

static void
metrics_fold_hist(struct metrics_phist *to, const struct metrics_hist *h)
{
	unsigned	 b;

	for (b = 0; b <= METRICS_NBUCKETS; b++)
		to->bucket[b] += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
	to->count += atomic_load_explicit(&h->count, memory_order_relaxed);
	to->sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

/* The view's entry of a service, made on first sight; NULL when full. */
static struct metrics_vsvc *
metrics_view_svc(struct metrics_view *v, const char *service)
{
	size_t	 i;

	for (i = 0; i < v->nsvc; i++)
		if (strcmp(v->svc[i].service, service) == 0)
			return &v->svc[i];
	if (v->nsvc == METRICS_VIEW_SERVICES)
		return NULL;
	util_strlcpy(v->svc[v->nsvc].service, service, METRICS_SERVICE_MAX);
	return &v->svc[v->nsvc++];
}

/* A route of a segment in its service's table (by label): index, or -1. */
static int
metrics_view_route(struct metrics_vsvc *sv, const struct metrics_route *r)
{
	unsigned	 i;

	for (i = 0; i < sv->nroutes; i++)
		if (strcmp(sv->routes[i].method, r->method) == 0 &&
		    strcmp(sv->routes[i].pattern, r->pattern) == 0)
			return (int)i;
	if (sv->nroutes == METRICS_ROUTES_MAX)
		return -1;
	sv->routes[sv->nroutes] = *r;
	sv->routes[sv->nroutes].method[sizeof(r->method) - 1] = '\0';
	sv->routes[sv->nroutes].pattern[sizeof(r->pattern) - 1] = '\0';
	return (int)sv->nroutes++;
}

static void
metrics_fold(struct metrics_view *v, const struct metrics_seg *s)
{
	struct metrics_vsvc	*sv;
	char			 name[METRICS_SERVICE_MAX];
	unsigned		 k, r, st;
	int			 map[METRICS_ROUTES_MAX];

	memcpy(name, s->service, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if ((sv = metrics_view_svc(v, name)) == NULL)
		return;
	for (r = 0; r < s->nroutes && r < METRICS_ROUTES_MAX; r++)
		map[r] = metrics_view_route(sv, &s->routes[r]);
	v->nseg++;
	for (k = 0; k < s->nslots; k++) {
		const struct metrics_slot *sl = &s->slots[k];
		unsigned c;

		sv->starts += atomic_load_explicit(&sl->starts, memory_order_relaxed);
		for (c = 0; c < METRICS_COUNTERS_MAX; c++)
			v->c[c] += atomic_load_explicit(&sl->c[c], memory_order_relaxed);
		for (c = 0; c < MH__COUNT; c++)
			metrics_fold_hist(&v->h[c], &sl->h[c]);
		for (r = 0; r < s->nroutes && r < METRICS_ROUTES_MAX; r++) {
			if (map[r] < 0)
				continue;
			for (st = 0; st < METRICS_NSTATUS; st++)
				sv->req[map[r]][st] += atomic_load_explicit(&sl->req[r][st],
				    memory_order_relaxed);
			metrics_fold_hist(&sv->lat[map[r]], &sl->lat[r]);
		}
	}
}

/* Map one file; fold it when it is a whole segment of a living master. */
static void
metrics_read_one(struct metrics_view *v, const char *path)
{
	const struct metrics_seg	*s;
	struct stat			 st;
	void				*p;
	int				 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size < sizeof(struct metrics_seg)) {
		close(fd);
		return;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	s = p;
	if (atomic_load_explicit(&s->magic, memory_order_acquire) == METRICS_MAGIC &&
	    s->version == METRICS_VERSION && s->size == (uint64_t)st.st_size &&
	    s->nslots <= METRICS_SLOTS_MAX && s->nroutes <= METRICS_ROUTES_MAX &&
	    s->size == metrics_seg_size(s->nslots) && metrics_pid_alive((long)s->pid))
		metrics_fold(v, s);
	munmap(p, (size_t)st.st_size);
}

struct metrics_view *
metrics_collect(const char *dir)
{
	struct metrics_view	*v = util_calloc(1, sizeof(*v));
	DIR			*d;
	struct dirent		*e;
	char			 p[512];

	metrics_bases();
	if (dir == NULL || *dir == '\0' || (d = opendir(dir)) == NULL)
		return v;
	while ((e = readdir(d)) != NULL) {
		if (metrics_name_pid(e->d_name, "") == 0)
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) < sizeof(p))
			metrics_read_one(v, p);
	}
	closedir(d);
	return v;
}

void
metrics_view_free(struct metrics_view *v)
{
	free(v);
}

size_t
metrics_view_segments(const struct metrics_view *v)
{
	return v->nseg;
}

int64_t
metrics_view_total(const struct metrics_view *v, enum metrics_family f)
{
	uint64_t	 sum = 0;
	unsigned	 k;

	if ((unsigned)f >= MF__COUNT)
		return 0;
	metrics_bases();
	for (k = 0; k < metrics_fams[f].n1 * metrics_fams[f].n2; k++)
		sum += v->c[metrics_base[f] + k];
	/* Gauges are kept in two's complement: the sum wraps back to signed. */
	return (int64_t)sum;
}

/* ------------------------------------------------------------ the writer */

void
metrics_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '"')
			buf_puts(b, "\\\"");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *s);
	}
}

void
metrics_family_head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (; *help; help++) {
		if (*help == '\\')
			buf_puts(b, "\\\\");
		else if (*help == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *help);
	}
	buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void
metrics_labels(struct buf *b, const struct metrics_label *labels, size_t n, const char *le)
{
	size_t	 i;

	if (n == 0 && le == NULL)
		return;
	buf_putc(b, '{');
	for (i = 0; i < n; i++) {
		buf_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
		metrics_escape(b, labels[i].value);
		buf_putc(b, '"');
	}
	if (le != NULL)
		buf_printf(b, "%sle=\"%s\"", n ? "," : "", le);
	buf_putc(b, '}');
}

static void
metrics_value(struct buf *b, double v)
{
	if (v == (double)(long long)v && v > -9e15 && v < 9e15)
		buf_printf(b, " %lld\n", (long long)v);
	else
		buf_printf(b, " %.9g\n", v);
}

void
metrics_sample(struct buf *b, const char *name, const struct metrics_label *labels, size_t n,
    double value)
{
	buf_puts(b, name);
	metrics_labels(b, labels, n, NULL);
	metrics_value(b, value);
}

void
metrics_histogram(struct buf *b, const char *name, const struct metrics_label *labels, size_t n,
    const uint64_t bucket[METRICS_NBUCKETS + 1], uint64_t count, uint64_t sum_us)
{
	uint64_t	 cum = 0;
	unsigned	 i;
	char		 le[24];

	for (i = 0; i <= METRICS_NBUCKETS; i++) {
		cum += bucket[i];
		if (i < METRICS_NBUCKETS)
			snprintf(le, sizeof(le), "%g", metrics_bucket_le[i]);
		else
			util_strlcpy(le, "+Inf", sizeof(le));
		buf_printf(b, "%s_bucket", name);
		metrics_labels(b, labels, n, le);
		/* +Inf is the count, even if a bucket moved between two loads. */
		buf_printf(b, " %llu\n", (unsigned long long)(i < METRICS_NBUCKETS ? cum : count));
	}
	buf_printf(b, "%s_sum", name);
	metrics_labels(b, labels, n, NULL);
	buf_printf(b, " %.6f\n", (double)sum_us / 1e6);
	buf_printf(b, "%s_count", name);
	metrics_labels(b, labels, n, NULL);
	buf_printf(b, " %llu\n", (unsigned long long)count);
}

static void
metrics_status_label(unsigned st, char *out, size_t outsz)
{
	if (st < METRICS_NCODES)
		snprintf(out, outsz, "%d", metrics_codes[st]);
	else
		snprintf(out, outsz, "%uxx", st - (unsigned)METRICS_NCODES + 1);
}

static void
metrics_expose_http(struct buf *b, const struct metrics_view *v)
{
	struct metrics_label lab[4] = { { "service", NULL }, { "method", NULL },
	    { "route", NULL }, { "status", NULL } };
	char		 status[8];
	size_t		 i;
	unsigned	 r, st;

	metrics_family_head(b, "cb_http_requests_total", "counter",
	    "Requests answered by the responders, by service, method, route pattern and status.");
	for (i = 0; i < v->nsvc; i++)
		for (r = 0; r < v->svc[i].nroutes; r++)
			for (st = 0; st < METRICS_NSTATUS; st++) {
				if (v->svc[i].req[r][st] == 0)
					continue;
				metrics_status_label(st, status, sizeof(status));
				lab[0].value = v->svc[i].service;
				lab[1].value = v->svc[i].routes[r].method;
				lab[2].value = v->svc[i].routes[r].pattern;
				lab[3].value = status;
				metrics_sample(b, "cb_http_requests_total", lab, 4,
				    (double)v->svc[i].req[r][st]);
			}
	metrics_family_head(b, "cb_http_request_duration_seconds", "histogram",
	    "Time a responder spent on a request, from its parameters to its answer, seconds.");
	for (i = 0; i < v->nsvc; i++)
		for (r = 0; r < v->svc[i].nroutes; r++) {
			const struct metrics_phist *h = &v->svc[i].lat[r];

			if (h->count == 0)
				continue;
			lab[0].value = v->svc[i].service;
			lab[1].value = v->svc[i].routes[r].method;
			lab[2].value = v->svc[i].routes[r].pattern;
			metrics_histogram(b, "cb_http_request_duration_seconds", lab, 3, h->bucket,
			    h->count, h->sum_us);
		}
}

void
metrics_expose(struct buf *b, const struct metrics_view *v)
{
	struct metrics_label lab[2];
	size_t		 i;
	unsigned	 f, x, y;

	lab[0].name = "commit";
	lab[0].value = CB_COMMIT;
	metrics_family_head(b, "cb_build_info", "gauge", "The build this node runs (always 1).");
	metrics_sample(b, "cb_build_info", lab, 1, 1);
	metrics_family_head(b, "cb_process_starts_total", "counter",
	    "Processes started into a metrics slot, by service (a respawn counts again).");
	for (i = 0; i < v->nsvc; i++) {
		lab[0].name = "service";
		lab[0].value = v->svc[i].service;
		metrics_sample(b, "cb_process_starts_total", lab, 1, (double)v->svc[i].starts);
	}
	metrics_expose_http(b, v);
	for (f = 0; f < MF__COUNT; f++) {
		metrics_family_head(b, metrics_fams[f].name, metrics_fams[f].type,
		    metrics_fams[f].help);
		for (x = 0; x < metrics_fams[f].n1; x++)
			for (y = 0; y < metrics_fams[f].n2; y++) {
				uint64_t c = v->c[metrics_base[f] + x * metrics_fams[f].n2 + y];
				size_t n = 0;

				if (metrics_fams[f].l1 != NULL) {
					lab[n].name = metrics_fams[f].l1;
					lab[n++].value = metrics_fams[f].v1[x];
				}
				if (metrics_fams[f].l2 != NULL) {
					lab[n].name = metrics_fams[f].l2;
					lab[n++].value = metrics_fams[f].v2[y];
				}
				metrics_sample(b, metrics_fams[f].name, lab, n,
				    strcmp(metrics_fams[f].type, "gauge") == 0 ?
				    (double)(int64_t)c : (double)c);
			}
	}
	for (f = 0; f < MH__COUNT; f++) {
		metrics_family_head(b, metrics_hists[f].name, "histogram", metrics_hists[f].help);
		metrics_histogram(b, metrics_hists[f].name, NULL, 0, v->h[f].bucket, v->h[f].count,
		    v->h[f].sum_us);
	}
}
