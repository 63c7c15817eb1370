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
 * Between rounds it sleeps on a Redis subscription ("cb:outbox", published
 * by writers after their commit) until a new row is announced or the next
 * known run_after comes due: no polling loop.  Without Redis it sweeps once
 * a second (degraded, never lossy).
 *
 * Sealed at rest (lib/reseal.h).  A salesforce.upsert row carries its field
 * map in payload_sealed (PII, bound to "outbox:<ref_id>:fields"); the clear
 * payload has only sobject, ext_field and ext_value.  A value that does not
 * open (after one forced reload of the data keys, in case it was sealed
 * under a key made moments ago) is dead-lettered at once with a last_error
 * saying so: never delivered half-empty.  No keyring at all (Postgres away
 * when it was due to load) is not the row's fault: the attempt is given
 * back.  Rows written before sealing (payload.fields, no payload_sealed)
 * are still delivered.
 *
 * The Salesforce access token is cached sealed in sf_tokens (tokens, bound
 * to "sf_tokens:<name>:token", the plaintext {"access_token","instance_url"}
 * so neither can be swapped): stored after every mint, loaded when the
 * client is made, so a restart does not mint again; a stale one costs the
 * client's usual 401 and one re-mint.  <name> is derived from the login
 * URL, audience, client id and username, so a token is never reused for
 * another org or user.  The token is never logged.
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

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "keyring.h"
#include "kv.h"
#include "log.h"
#include "reseal.h"
#include "seal.h"
#include "sf.h"
#include "util.h"
#include "worker.h"

#define OUTBOX_IDLE_MAX_MS	5000	/* idle sweep: rows from writers that did not publish */
#define OUTBOX_FALLBACK_MS	1000
/* A sealed token record in the text format, with room. */
#define OUTBOX_TOKEN_SEALED_MAX	16384u

struct outbox {
	const struct settings	*s;
	struct db		*db;
	struct sf_client	*sf;
	struct keyring		*keys;		/* the master's, inherited */
	char			 me[96];
	char			 token_name[40];	/* sf_tokens.name for this configuration */
	struct kv_sub		*sub;		/* Redis pub/sub wake-ups ("cb:outbox") */
	double			 sf_retry_at;
};

static void
outbox_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}



/* Milliseconds of backoff after `attempt` failures: base * 2^(n-1), capped, +-20%. */
static long
outbox_backoff(const struct settings *s, int attempt, long retry_after_s)
{
	(void)s;
	double	 ms = 100.0 * pow(2.0, attempt > 1 ? attempt - 1 : 0);
	double	 cap = 2000.0;
	double	 jitter = 0.8 + 0.4 * ((double)randombytes_uniform(10001) / 10000.0);

	if (ms > cap)
		ms = cap;
	ms *= jitter;
	if (retry_after_s > 0 && ms < (double)retry_after_s * 1000.0)
		ms = (double)retry_after_s * 1000.0;
	return (long)ms;
}

/*
 * The cache row's name: a digest of what decides whose token it is, so a
 * changed login URL, audience, connected app or user never picks up a token
 * of the previous configuration.
 */
static void
outbox_token_name(struct outbox *o)
{
	crypto_generichash_state st;
	unsigned char		 h[16];
	const char		*parts[4];
	size_t			 i;

	parts[0] = o->s->sf_login_url ? o->s->sf_login_url : "";
	parts[1] = o->s->sf_audience ? o->s->sf_audience : "";
	parts[2] = o->s->sf_client_id ? o->s->sf_client_id : "";
	parts[3] = o->s->sf_username ? o->s->sf_username : "";
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (i = 0; i < 4; i++)
		crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(o->token_name, "jwt:", 4);
	util_hex(o->token_name + 4, h, sizeof(h));
}

/* After a mint: keep the token sealed in Postgres.  Best effort: never fatal. */
static void
outbox_token_store(const char *token, const char *instance_url, void *ud)
{
	struct outbox		*o = ud;
	struct seal_keyring	*kr = keyring_get(o->keys, o->db);
	struct buf		 plain, sealed;
	int			 rc;

	buf_init(&plain, OUTBOX_TOKEN_SEALED_MAX);
	buf_init(&sealed, OUTBOX_TOKEN_SEALED_MAX);
	if (kr == NULL) {
		rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	if ((rc = buf_puts(&plain, "{\"access_token\":")) != CB_OK ||
	    (rc = buf_json_str(&plain, token)) != CB_OK ||
	    (rc = buf_puts(&plain, ",\"instance_url\":")) != CB_OK ||
	    (rc = buf_json_str(&plain, instance_url)) != CB_OK ||
	    (rc = buf_putc(&plain, '}')) != CB_OK)
		goto out;
	if ((rc = reseal_seal_value(kr, "sf_tokens", o->token_name, plain.data, plain.len,
	    &sealed)) != CB_OK)
		goto out;
	rc = db_exec(o->db, "INSERT INTO sf_tokens (name, instance_url, token_sealed)"
	    " VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET instance_url = EXCLUDED.instance_url,"
	    " token_sealed = EXCLUDED.token_sealed, updated_at = now()", 3,
	    (const char *[]){ o->token_name, instance_url, buf_cstr(&sealed) });
out:
	if (rc == CB_OK)
		log_kv(LOG_LVL_INFO, "sf_token_stored", "name", o->token_name, NULL);
	else
		log_kv(LOG_LVL_WARN, "sf_token_store_failed", "name", o->token_name,
		    "error", errs_name(rc), NULL);
	buf_wipe(&plain);
	buf_free(&sealed);
}

/* At client creation: seed it with the stored token, if there is a usable one. */
static void
outbox_token_load(struct outbox *o)
{
	struct seal_keyring	*kr;
	struct db_res		*res = NULL;
	struct buf		 plain;
	struct jv_error		 je;
	cJSON			*doc = NULL;
	const cJSON		*at = NULL, *iu;
	const char		*why = NULL;

	buf_init(&plain, OUTBOX_TOKEN_SEALED_MAX);
	if (db_query(o->db, &res, "SELECT token_sealed FROM sf_tokens WHERE name = $1", 1,
	    (const char *[]){ o->token_name }) != CB_OK) {
		why = "database";
		goto out;
	}
	if (db_rows(res) != 1)
		goto out;		/* nothing cached yet: the first call mints */
	if ((kr = keyring_get(o->keys, o->db)) == NULL) {
		why = "keyring unavailable";
		goto out;
	}
	if (reseal_open_value(kr, "sf_tokens", o->token_name, db_val(res, 0, 0), &plain) != CB_OK) {
		why = "does not open";
		goto out;
	}
	if (jv_parse(plain.data, plain.len, &doc, &je) != CB_OK || !cJSON_IsObject(doc)) {
		why = "malformed";
		goto out;
	}
	at = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	iu = cJSON_GetObjectItemCaseSensitive(doc, "instance_url");
	if (!cJSON_IsString(at) || !cJSON_IsString(iu) ||
	    sf_set_token(o->sf, at->valuestring, iu->valuestring) != CB_OK) {
		why = "unusable";
		goto out;
	}
	log_kv(LOG_LVL_INFO, "sf_token_loaded", "name", o->token_name, NULL);
out:
	if (why != NULL)
		log_kv(LOG_LVL_WARN, "sf_token_cache_skipped", "name", o->token_name,
		    "why", why, NULL);
	if (doc != NULL) {
		/* The tree holds the token in cJSON's own allocation. */
		if (cJSON_IsObject(doc) && (at = cJSON_GetObjectItemCaseSensitive(doc,
		    "access_token")) != NULL && cJSON_IsString(at))
			sodium_memzero(at->valuestring, strlen(at->valuestring));
		cJSON_Delete(doc);
	}
	buf_wipe(&plain);
	db_res_free(res);
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
		return NULL;
	}
	outbox_token_name(o);
	outbox_token_load(o);
	sf_set_token_hook(o->sf, outbox_token_store, o);
	return o->sf;
}

static void
outbox_fail(struct sf_result *res, int kind, const char *code, const char *msg)
{
	memset(res, 0, sizeof(*res));
	res->kind = kind;
	util_strlcpy(res->error_code, code, sizeof(res->error_code));
	util_strlcpy(res->message, msg, sizeof(res->message));
}

/*
 * The field map of a row into `fields` (JSON object text).  CB_OK, or res
 * filled: SF_CONFIG when there is no keyring (the attempt is given back),
 * SF_PERMANENT when the sealed value does not open for this row.
 */
static int
outbox_open_fields(struct outbox *o, const char *ref_id, const char *sealed,
    const cJSON *legacy, struct buf *fields, struct sf_result *res)
{
	struct seal_keyring	*kr;
	char			*text;
	int			 rc;

	if (sealed == NULL) {
		/* A row written before sealing: its map is in the clear payload. */
		if (!cJSON_IsObject(legacy)) {
			outbox_fail(res, SF_PERMANENT, "BAD_PAYLOAD",
			    "neither payload_sealed nor payload.fields");
			return CB_ERR_VALIDATION;
		}
		if ((text = cJSON_PrintUnformatted(legacy)) == NULL)
			util_oom();
		rc = buf_puts(fields, text);
		sodium_memzero(text, strlen(text));
		free(text);
		if (rc != CB_OK)
			outbox_fail(res, SF_PERMANENT, "BAD_PAYLOAD", "payload.fields too large");
		return rc;
	}
	if ((kr = keyring_get(o->keys, o->db)) == NULL) {
		outbox_fail(res, SF_CONFIG, "KEYRING_UNAVAILABLE",
		    "the seal keyring could not be loaded from data_keys");
		return CB_ERR_UNAVAILABLE;
	}
	rc = reseal_open_value(kr, "outbox", ref_id, sealed, fields);
	if (rc == CB_ERR_CRYPTO) {
		/* Perhaps sealed under a key made since we last looked. */
		o->keys->checked_ms = 0;
		if ((kr = keyring_get(o->keys, o->db)) != NULL)
			rc = reseal_open_value(kr, "outbox", ref_id, sealed, fields);
	}
	if (rc != CB_OK) {
		outbox_fail(res, SF_PERMANENT, "SEALED_PAYLOAD",
		    "payload_sealed does not open for this row (copied from another row,"
		    " altered, or under an unknown data key): not delivered");
		return rc;
	}
	return CB_OK;
}

static void
outbox_deliver_sf(struct outbox *o, const char *payload, const char *ref_id,
    const char *sealed, struct sf_result *res)
{
	cJSON		*p = cJSON_Parse(payload), *obj, *ext, *val;
	struct buf	 fields;
	struct sf_client *sf;

	memset(res, 0, sizeof(*res));
	buf_init(&fields, SEAL_MAX_PLAIN);
	obj = cJSON_GetObjectItemCaseSensitive(p, "sobject");
	ext = cJSON_GetObjectItemCaseSensitive(p, "ext_field");
	val = cJSON_GetObjectItemCaseSensitive(p, "ext_value");
	if (!cJSON_IsString(obj) || !cJSON_IsString(ext) || !cJSON_IsString(val)) {
		outbox_fail(res, SF_PERMANENT, "BAD_PAYLOAD", "sobject, ext_field or ext_value missing");
		goto out;
	}
	/* Open first: a row that cannot be read is dead before any network. */
	if (outbox_open_fields(o, ref_id, sealed, cJSON_GetObjectItemCaseSensitive(p, "fields"),
	    &fields, res) != CB_OK)
		goto out;
	if ((sf = outbox_sf(o, res)) == NULL)
		goto out;
	(void)sf_upsert(sf, obj->valuestring, ext->valuestring, val->valuestring,
	    buf_cstr(&fields), res);
out:
	buf_wipe(&fields);
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
	if (res->http_status == 0)	/* decided here, before or without an answer */
		snprintf(err, sizeof(err), "%s %s: %s", sf_kind_name(res->kind), res->error_code,
		    res->message);
	else
		snprintf(err, sizeof(err), "%s HTTP %d %s: %s", sf_kind_name(res->kind),
		    res->http_status, res->error_code, res->message);
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
	snprintf(batch, sizeof(batch), "%lld", 10LL);
	if (db_query(o->db, &res,
	    "UPDATE outbox SET state = 'running', locked_by = $1, attempts = attempts + 1,"
	    " locked_until = now() + make_interval(secs => $2::int)"
	    " WHERE id IN (SELECT id FROM outbox WHERE (state = 'pending' AND run_after <= now())"
	    "   OR (state = 'running' AND locked_until < now())"
	    "   ORDER BY run_after, id LIMIT $3::int FOR UPDATE SKIP LOCKED)"
	    " RETURNING id, kind, payload::text, attempts, max_attempts,"
	    "   coalesce(ref_id::text, ''), payload_sealed", 3,
	    (const char *[]){ o->me, lease, batch }) != CB_OK)
		return -1;
	n = db_rows(res);
	for (i = 0; i < n; i++) {
		const char *id = db_val(res, i, 0), *kind = db_val(res, i, 1);

		(void)util_parse_ll(db_val(res, i, 3), 0, 1 << 30, &att);
		(void)util_parse_ll(db_val(res, i, 4), 1, 1 << 30, &max);
		if (max > 4)
			max = 4;
		if (worker_stop) {
			/* Stopping: hand the rest of the batch back untouched. */
			(void)db_exec(o->db, "UPDATE outbox SET state = 'pending', attempts = attempts - 1,"
			    " locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2", 2,
			    (const char *[]){ id, o->me });
			continue;
		}
		if (strcmp(kind, "salesforce.upsert") == 0)
			outbox_deliver_sf(o, db_val(res, i, 2), db_val(res, i, 5),
			    db_isnull(res, i, 6) ? NULL : db_val(res, i, 6), &sr);
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
outbox_run(struct worker *w)
{
	const struct settings	*s = w->s;
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
	o.keys = &w->keys;
	log_kv(LOG_LVL_INFO, "outbox_started", "worker", o.me, NULL);

	while (!worker_stop) {
		if (db_connect(o.db) != CB_OK) {
			/* Postgres is away: nothing is lost, the rows wait for us. */
			poll(NULL, 0, down_ms);
			down_ms = down_ms < 5000 ? down_ms * 2 : 5000;
			continue;
		}
		down_ms = 250;
		/* Subscribe before looking, so no wake-up falls between the two. */
		if (o.sub == NULL)
			o.sub = kv_sub_open(s->redis_host, (int)s->redis_port, s->redis_password,
			    (int)s->redis_timeout_ms, "cb:outbox");
		n = outbox_round(&o);
		if (n < 0 || n >= 10 || worker_stop)
			continue;
		if ((wait_ms = outbox_next_ms(&o)) == 0)
			continue;
		/* Without Redis, sweep every second instead: slower, never lossy. */
		if (o.sub == NULL || (pfd.fd = kv_sub_fd(o.sub)) < 0) {
			poll(NULL, 0, wait_ms < OUTBOX_FALLBACK_MS ? wait_ms : OUTBOX_FALLBACK_MS);
			continue;
		}
		pfd.events = POLLIN;
		if (poll(&pfd, 1, wait_ms) > 0 && kv_sub_drain(o.sub) < 0) {
			log_kv(LOG_LVL_WARN, "outbox_wakeup_lost", "fallback", "1 s sweep", NULL);
			kv_sub_close(o.sub);
			o.sub = NULL;
		}
	}
	kv_sub_close(o.sub);
	sf_client_free(o.sf);
	db_close(o.db);
	log_kv(LOG_LVL_INFO, "outbox_stopped", NULL);
	return 0;
}
