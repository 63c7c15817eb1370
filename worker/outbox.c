/*
 * outbox: the delivery duty.  Drains the transactional outbox:
 *
 *   lease   UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) sets
 *           state=running with a lease (locked_until); a crashed worker's
 *           rows come back when their lease expires.  Several workers can
 *           drain one outbox.
 *   deliver salesforce.upsert: PATCH by external id (the submission id), so
 *           a repeated delivery updates the same record, never a second one.
 *   record  done; or pending again with exponential backoff and jitter
 *           (Retry-After honoured); or dead (the dead-letter state, with
 *           last_error) after the maximum attempts, or at once for a
 *           permanent error.  A configuration error burns no attempt.
 *
 * Between rounds it sleeps on the LISTEN socket (cb_outbox) until a new row
 * is announced or the next known run_after comes due: no polling loop.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "db.h"
#include "errs.h"
#include "log.h"
#include "sf.h"
#include "util.h"
#include "worker.h"

#define OUTBOX_IDLE_MAX_MS	30000

struct outbox {
	const struct settings	*s;
	struct db		*db;
	struct sf_client	*sf;
	char			 me[96];
	int			 listening;
	double			 sf_retry_at;
};

static void
outbox_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
outbox_notify(const char *chan, const char *payload, void *ud)
{
	(void)chan;
	(void)payload;
	(void)ud;
}

static int
outbox_listen(struct outbox *o)
{
	if (o->listening && db_socket(o->db) >= 0)
		return CB_OK;
	if (db_exec(o->db, "LISTEN cb_outbox", 0, NULL) != CB_OK)
		return CB_ERR_DB_DOWN;
	o->listening = 1;
	return CB_OK;
}

/* Milliseconds of backoff after `attempt` failures: base * 2^(n-1), capped, +-20%. */
static long
outbox_backoff(const struct settings *s, int attempt, long retry_after_s)
{
	double	 ms = (double)s->outbox_backoff_ms * pow(2.0, attempt > 1 ? attempt - 1 : 0);
	double	 cap = (double)s->outbox_backoff_max_s * 1000.0;
	double	 jitter = 0.8 + 0.4 * ((double)randombytes_uniform(10001) / 10000.0);

	if (ms > cap)
		ms = cap;
	ms *= jitter;
	if (retry_after_s > 0 && ms < (double)retry_after_s * 1000.0)
		ms = (double)retry_after_s * 1000.0;
	return (long)ms;
}

static struct sf_client *
outbox_sf(struct outbox *o, struct sf_result *res)
{
	struct sf_conf	 c;
	char		 err[256];

	if (o->sf)
		return o->sf;
	memset(res, 0, sizeof(*res));
	res->kind = SF_CONFIG;
	if (o->s->sf_client_id == NULL || o->s->sf_username == NULL ||
	    o->s->sf_private_key_file == NULL) {
		util_strlcpy(res->error_code, "NOT_CONFIGURED", sizeof(res->error_code));
		util_strlcpy(res->message, "CB_SF_CLIENT_ID, CB_SF_USERNAME and "
		    "CB_SF_PRIVATE_KEY_FILE must be set", sizeof(res->message));
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	c.login_url = o->s->sf_login_url;
	c.audience = o->s->sf_audience;
	c.client_id = o->s->sf_client_id;
	c.username = o->s->sf_username;
	c.private_key_file = o->s->sf_private_key_file;
	c.api_version = o->s->sf_api_version;
	c.timeout_ms = (long)o->s->sf_timeout_ms;
	if ((o->sf = sf_client_new(&c, err, sizeof(err))) == NULL) {
		util_strlcpy(res->error_code, "CLIENT", sizeof(res->error_code));
		util_strlcpy(res->message, err, sizeof(res->message));
	}
	return o->sf;
}

static void
outbox_deliver_sf(struct outbox *o, const char *payload, struct sf_result *res)
{
	cJSON		*p = cJSON_Parse(payload), *obj, *ext, *val, *fields;
	char		*body = NULL;
	struct sf_client *sf;

	memset(res, 0, sizeof(*res));
	obj = cJSON_GetObjectItemCaseSensitive(p, "sobject");
	ext = cJSON_GetObjectItemCaseSensitive(p, "ext_field");
	val = cJSON_GetObjectItemCaseSensitive(p, "ext_value");
	fields = cJSON_GetObjectItemCaseSensitive(p, "fields");
	if (!cJSON_IsString(obj) || !cJSON_IsString(ext) || !cJSON_IsString(val) ||
	    !cJSON_IsObject(fields)) {
		res->kind = SF_PERMANENT;
		util_strlcpy(res->error_code, "BAD_PAYLOAD", sizeof(res->error_code));
		goto out;
	}
	if ((sf = outbox_sf(o, res)) == NULL)
		goto out;
	if ((body = cJSON_PrintUnformatted(fields)) == NULL)
		util_oom();
	(void)sf_upsert(sf, obj->valuestring, ext->valuestring, val->valuestring, body, res);
out:
	free(body);
	cJSON_Delete(p);
}

static void
outbox_record(struct outbox *o, const char *id, const char *kind, int attempts, int max,
    const struct sf_result *res)
{
	char		 err[400], ms[24], rid[64];
	cJSON		*r;
	char		*rj;
	int		 dead;

	if (res->kind == SF_CREATED || res->kind == SF_UPDATED) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "outcome", sf_kind_name(res->kind));
		cJSON_AddStringToObject(r, "record_id", res->id);
		cJSON_AddNumberToObject(r, "http_status", res->http_status);
		rj = cJSON_PrintUnformatted(r);
		cJSON_Delete(r);
		(void)db_exec(o->db, "UPDATE outbox SET state = 'done', done_at = now(), result = $3::jsonb,"
		    " last_error = NULL, locked_by = NULL, locked_until = NULL"
		    " WHERE id = $1 AND locked_by = $2", 3, (const char *[]){ id, o->me, rj });
		free(rj);
		log_kv(LOG_LVL_INFO, "outbox_delivered", "outbox_id", id, "kind", kind,
		    "outcome", sf_kind_name(res->kind), NULL);
		return;
	}
	/* The message may echo record data: it goes to the row, never to logs. */
	snprintf(err, sizeof(err), "%s HTTP %d %s: %s", sf_kind_name(res->kind), res->http_status,
	    res->error_code, res->message);
	if (res->kind == SF_CONFIG) {
		/* Not the row's fault: give the attempt back and wait for a fix. */
		(void)db_exec(o->db, "UPDATE outbox SET state = 'pending', attempts = attempts - 1,"
		    " run_after = now() + interval '60 seconds', last_error = $3,"
		    " locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2", 3,
		    (const char *[]){ id, o->me, err });
		log_kv(LOG_LVL_ERROR, "salesforce_config_error", "outbox_id", id,
		    "error_code", res->error_code, NULL);
		return;
	}
	dead = res->kind == SF_PERMANENT || attempts >= max;
	if (dead) {
		(void)db_exec(o->db, "UPDATE outbox SET state = 'dead', last_error = $3, done_at = now(),"
		    " locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2", 3,
		    (const char *[]){ id, o->me, err });
		snprintf(rid, sizeof(rid), "%d", attempts);
		log_kv(LOG_LVL_ERROR, "outbox_dead_letter", "outbox_id", id, "kind", kind,
		    "attempts", rid, "outcome", sf_kind_name(res->kind),
		    "error_code", res->error_code, NULL);
		return;
	}
	snprintf(ms, sizeof(ms), "%ld", outbox_backoff(o->s, attempts, res->retry_after_s));
	(void)db_exec(o->db, "UPDATE outbox SET state = 'pending', last_error = $3,"
	    " run_after = now() + make_interval(secs => $4::float8 / 1000),"
	    " locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2", 4,
	    (const char *[]){ id, o->me, err, ms });
	log_kv(LOG_LVL_WARN, "outbox_retry", "outbox_id", id, "kind", kind,
	    "error_code", res->error_code, "in_ms", ms, NULL);
}

/* Lease and deliver one batch; returns rows handled, or -1 if Postgres is away. */
static int
outbox_round(struct outbox *o)
{
	struct db_res	*res = NULL;
	struct sf_result sr;
	char		 lease[24], batch[24];
	long long	 att, max;
	size_t		 i, n;

	snprintf(lease, sizeof(lease), "%lld", o->s->outbox_lease_s);
	snprintf(batch, sizeof(batch), "%lld", o->s->outbox_batch);
	if (db_query(o->db, &res,
	    "UPDATE outbox SET state = 'running', locked_by = $1, attempts = attempts + 1,"
	    " locked_until = now() + make_interval(secs => $2::int)"
	    " WHERE id IN (SELECT id FROM outbox WHERE (state = 'pending' AND run_after <= now())"
	    "   OR (state = 'running' AND locked_until < now())"
	    "   ORDER BY run_after, id LIMIT $3::int FOR UPDATE SKIP LOCKED)"
	    " RETURNING id, kind, payload::text, attempts, max_attempts", 3,
	    (const char *[]){ o->me, lease, batch }) != CB_OK)
		return -1;
	n = db_rows(res);
	for (i = 0; i < n; i++) {
		const char *id = db_val(res, i, 0), *kind = db_val(res, i, 1);

		(void)util_parse_ll(db_val(res, i, 3), 0, 1 << 30, &att);
		(void)util_parse_ll(db_val(res, i, 4), 1, 1 << 30, &max);
		if (max > o->s->outbox_max_attempts)
			max = o->s->outbox_max_attempts;
		if (worker_stop) {
			/* Stopping: hand the rest of the batch back untouched. */
			(void)db_exec(o->db, "UPDATE outbox SET state = 'pending', attempts = attempts - 1,"
			    " locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2", 2,
			    (const char *[]){ id, o->me });
			continue;
		}
		if (strcmp(kind, "salesforce.upsert") == 0)
			outbox_deliver_sf(o, db_val(res, i, 2), &sr);
		else {
			memset(&sr, 0, sizeof(sr));
			sr.kind = SF_PERMANENT;
			util_strlcpy(sr.error_code, "UNKNOWN_KIND", sizeof(sr.error_code));
		}
		outbox_record(o, id, kind, (int)att, (int)max, &sr);
	}
	db_res_free(res);
	return (int)n;
}

/* How long until the next row is due (capped); 0 if one is due now. */
static int
outbox_next_ms(struct outbox *o)
{
	struct db_res	*res = NULL;
	long long	 ms = OUTBOX_IDLE_MAX_MS;

	if (db_query(o->db, &res, "SELECT ceil(extract(epoch FROM (min(t) - now())) * 1000)::bigint"
	    " FROM (SELECT min(run_after) AS t FROM outbox WHERE state = 'pending'"
	    "       UNION ALL SELECT min(locked_until) FROM outbox WHERE state = 'running') x",
	    0, NULL) != CB_OK)
		return 1000;
	if (db_rows(res) == 1 && db_val(res, 0, 0) != NULL)
		(void)util_parse_ll(db_val(res, 0, 0), -(1LL << 40), 1LL << 40, &ms);
	db_res_free(res);
	if (ms < 0)
		ms = 0;
	if (ms > OUTBOX_IDLE_MAX_MS)
		ms = OUTBOX_IDLE_MAX_MS;
	return (int)ms;
}

int
outbox_run(const struct settings *s)
{
	struct outbox	 o;
	struct sigaction sa;
	struct pollfd	 pfd;
	char		 host[64] = "";
	int		 n, wait_ms, down_ms = 250;

	memset(&o, 0, sizeof(o));
	o.s = s;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = outbox_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	gethostname(host, sizeof(host) - 1);
	snprintf(o.me, sizeof(o.me), "%s:%ld", host, (long)getpid());
	o.db = db_open(s->pg_dsn);
	log_kv(LOG_LVL_INFO, "outbox_started", "worker", o.me, NULL);

	while (!worker_stop) {
		if (outbox_listen(&o) != CB_OK) {
			/* Postgres is away: nothing is lost, the rows wait for us. */
			o.listening = 0;
			poll(NULL, 0, down_ms);
			down_ms = down_ms < 5000 ? down_ms * 2 : 5000;
			continue;
		}
		down_ms = 250;
		n = outbox_round(&o);
		if (n < 0) {
			o.listening = 0;
			continue;
		}
		if (n >= s->outbox_batch || worker_stop)
			continue;
		if ((wait_ms = outbox_next_ms(&o)) == 0)
			continue;
		pfd.fd = db_socket(o.db);
		pfd.events = POLLIN;
		if (pfd.fd < 0) {
			o.listening = 0;
			continue;
		}
		if (poll(&pfd, 1, wait_ms) > 0 &&
		    db_notifies(o.db, outbox_notify, NULL) != CB_OK)
			o.listening = 0;
	}
	sf_client_free(o.sf);
	db_close(o.db);
	log_kv(LOG_LVL_INFO, "outbox_stopped", NULL);
	return 0;
}
