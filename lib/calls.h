/*
 * calls: the voice platform's inbound call events (docs/calls.md), shared
 * by the route (cgi/calls.c) and the operator CLI (cb-admin call-source-*):
 * no statement on call_sources, call_events or call_webhook_ids is written
 * twice.
 *
 * Sources.  A call source is one sender for one tenant: a random uuid (the
 * route's {source}), a name unique in the tenant, an optional default
 * country code for national phone numbers, and a Standard Webhooks secret
 * ("whsec_...", lib/stdwh.h) made here, handed to the caller once, kept only
 * sealed (purpose tokens, AAD "call_sources:<id>:secret", ":secret_prev"
 * for the one a rotation replaced).  A rotation keeps the previous secret
 * valid until prev_until = now + overlap; then only the new one verifies.
 *
 * Events.  The body is checked against calls_event_fields (an unknown
 * field, a wrong type, a bad time or phone is refused naming the field);
 * phones are normalised to E.164 with the source's country code.  Ingest
 * writes, in ONE statement (one transaction), the webhook-id (the replay
 * cache), the event (the three-part idempotency key: tenant, correlation
 * id and event type, SHA-256 of the raw body; the times and the phones
 * masked, for the call feed of docs/channel.md) and its outbox row for
 * Salesforce (the field map sealed, purpose pii, AAD
 * "outbox:<event id>:fields"); an altered replay
 * writes an audit row and one Slack alert instead, naming the tenant, the
 * correlation id and both hashes, never the body.  Nothing here logs a
 * phone number or a secret.
 */
#ifndef CB_CALLS_H
#define CB_CALLS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "jsonv.h"
#include "phone.h"
#include "stdwh.h"

struct db;
struct seal_keyring;

#define CALLS_NAME_MAX		200
#define CALLS_CORR_MAX		128
#define CALLS_SOURCES_MAX	1000
#define CALLS_SHA_HEX		65	/* 64 hex digits and NUL */
#define CALLS_SOBJECT		"Call_Activity__c"
#define CALLS_EXT_FIELD		"Call_Event_Key__c"

struct calls_source {
	char			 id[37];
	char			 org[24];
	char			 org_slug[64];
	char			 country_code[4];	/* "" when none */
	struct stdwh_key	 keys[2];		/* current, then previous while valid */
	size_t			 nkeys;
};

/* ---- sources ---------------------------------------------------------- */

/* A country code as phone_e164 takes it: 1 to 3 digits, not starting with 0. */
int	 calls_cc_ok(const char *cc);
/*
 * A new source of org (its slug or id) named `name`, country code cc (NULL
 * or "" for none).  Its id and secret (wipe it) into the buffers.
 * CB_ERR_NOT_FOUND (no such org), CB_ERR_CONFLICT (the name is taken),
 * CB_ERR_VALIDATION (name or cc), CB_ERR_UNAVAILABLE (no current seal key).
 */
int	 calls_source_create(struct db *, const struct seal_keyring *, const char *org,
	    const char *name, const char *cc, char id[37], char secret[STDWH_SECRET_BUFSZ])
	    __attribute__((warn_unused_result));
/*
 * A new secret for source id; the current one stays valid for overlap_s
 * more seconds (0: not at all).  prev_until gets the end of the overlap
 * (RFC 3339, "" when none).  CB_ERR_NOT_FOUND, CB_ERR_CRYPTO.
 */
int	 calls_source_rotate(struct db *, const struct seal_keyring *, const char *id,
	    long long overlap_s, char secret[STDWH_SECRET_BUFSZ], char prev_until[32])
	    __attribute__((warn_unused_result));
/* {"call_sources":[{id, name, country_code, created_at, rotated_at, prev_until}]}. */
int	 calls_source_list(struct db *, const char *org, cJSON **view)
	    __attribute__((warn_unused_result));
/*
 * Load a source for verification: its tenant and open secrets.
 * CB_ERR_NOT_FOUND (malformed or unknown id), CB_ERR_CRYPTO (a secret does
 * not open).  Wipe with calls_source_wipe.
 */
int	 calls_source_load(struct db *, const struct seal_keyring *, const char *id,
	    struct calls_source *) __attribute__((warn_unused_result));
void	 calls_source_wipe(struct calls_source *);

/* ---- events ----------------------------------------------------------- */

struct calls_event {
	const char	*correlation_id;
	const char	*event_type;
	const char	*from;			/* as sent; NULL when absent */
	const char	*to;
	const char	*started_at;		/* RFC 3339 */
	const char	*ended_at;
	long long	 duration_s;		/* -1 when absent or null (the route sets it) */
	const char	*disposition;
	const char	*transcript_ref;
	/* Filled by calls_event_normalise. */
	char		 from_e164[PHONE_E164_BUFSZ];
	char		 to_e164[PHONE_E164_BUFSZ];
};

#define CALLS_EVENT_NFIELDS	9
extern const struct jv_field	calls_event_fields[CALLS_EVENT_NFIELDS];
/*
 * After jv_validate: the phones into E.164 with the source's country code.
 * CB_ERR_VALIDATION with *field and *why (static text) naming the phone.
 */
int	 calls_event_normalise(struct calls_event *, const char *country_code,
	    const char **field, const char **why);
/* The Salesforce field map (docs/calls.md), a JSON text the caller wipes and frees. */
char	*calls_event_sf_fields(const struct calls_event *, const char *sha_hex);

enum calls_outcome {
	CALLS_CREATED = 0,	/* written: answer 202 */
	CALLS_REPLAYED,		/* the same triple again: answer 200, nothing written */
	CALLS_ALTERED,		/* same correlation id and type, another body: 422 */
	CALLS_ID_REUSED		/* the webhook-id came before with another body: 409 */
};

struct calls_result {
	enum calls_outcome	 outcome;
	/*
	 * The new or the stored event; "" for a retry whose event was deleted
	 * since (an erasure, retention): CALLS_REPLAYED, nothing written.
	 */
	char			 event_id[37];
	char			 stored_sha[CALLS_SHA_HEX];	/* CALLS_ALTERED: the first body's */
};

/*
 * Ingest one verified, checked event of source src; body_sha is the hex
 * SHA-256 of the raw body; trace the request's traceparent (NULL: none),
 * kept on the outbox row; subjects the event's blind-index entries (its
 * from and to numbers, lib/subject.h: NULL for none), written with it.  One
 * transaction (see above).  Errors: the database's, CB_ERR_UNAVAILABLE (no
 * current seal key).
 */
int	 calls_ingest(struct db *, const struct seal_keyring *, const struct calls_source *,
	    const char *webhook_id, const struct calls_event *, const char *body_sha,
	    const char *trace, const char *subjects, struct calls_result *)
	    __attribute__((warn_unused_result));

/* The hex SHA-256 of len bytes. */
void	 calls_sha256_hex(const void *, size_t, char out[CALLS_SHA_HEX]);

#endif
