/*
 * fk.h: what the parts of cb-fake-sf (tests/fakes/cb-fake-sf.c and
 * tests/fakes/sf/ files) share: the configuration, the one org's state under
 * fk.lock, and the functions one part calls in another.  Nothing here is
 * used outside cb-fake-sf.
 */
#ifndef CB_FAKE_SF_FK_H
#define CB_FAKE_SF_FK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../common/fakehttpd.h"
#include "../common/fakeplane.h"

#define FK_AUTH_MAX		4096
#define FK_RECORDS_DEFAULT	10000
#define FK_RECORDS_LIMIT	1000000
#define FK_COLLECTION_MAX	200	/* CONTRACTS §3.4 */
#define FK_TOKENS_MAX		256
#define FK_FAULTS_MAX		64
#define FK_OBJECTS_MAX		16
#define FK_ASSERTION_MAX	16384
#define FK_API_LIMIT		15000
#define FK_CONTACTS_MAX		1000
#define FK_QUERY_LOG		32	/* SOQL texts kept for /__fake/queries */
#define FK_CERTS_MAX		8	/* certificates of the connected app (rotation) */
#define FK_EXP_MAX_S		180	/* CONTRACTS §3.1: within 3 minutes */
#define FK_EXP_SKEW_S		5	/* clock leeway we grant the caller */
#define FK_ORG_ID		"00Dxx0000001gPLEA0"
#define FK_USER_ID		"005xx000001SwiUAAS"
#define FK_TOKEN_PREFIX		"00Dxx0000001gPL!"
#define FK_GRANT_TYPE		"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define FK_MSG_NOT_FOUND	"The requested resource does not exist"
#define FK_MSG_SESSION		"Session expired or invalid"
#define FK_MSG_LIMIT		"TotalRequests Limit exceeded."
#define FK_MSG_ROLLED_BACK	"Record rolled back because not all records " \
				"were valid and the request was using AllOrNone header"

/* ---- configuration (written by main before any thread starts) -------- */

struct fk_cfg {
	int		 port;
	const char	*cert_file;
	const char	*client_id;
	const char	*username;
	const char	*audience;
	long		 api_limit;
	size_t		 max_records;
	char		 objects[FK_OBJECTS_MAX][84];
	size_t		 nobjects;
	char		 base_url[64];
};
extern struct fk_cfg cfg;

/* ---- state (all under fk.lock) ---------------------------------------- */

/* What a request is, for faults and counting. */
enum fk_call { CALL_NONE, CALL_TOKEN, CALL_SINGLE, CALL_COLLECTIONS, CALL_REST, CALL_QUERY,
	CALL_DELETE };
/* Which calls a fault hits.  "upsert" is either kind of upsert. */
enum fault_target { FT_UPSERT, FT_TOKEN, FT_ANY, FT_SINGLE, FT_COLLECTIONS, FT_QUERY,
	FT_DELETE };
enum fault_kind { FAULT_STATUS, FAULT_DROP, FAULT_LATENCY, FAULT_RECORD };

struct fk_fault {
	long	 count;		/* first: uses left (fakeplane's queue) */
	int	 target;
	int	 kind;
	int	 status;
	long	 latency_ms;
	long	 retry_after_s;
	char	 error_code[64];
	char	 message[256];
	char	 match[256];	/* FAULT_RECORD: the value that triggers it */
	char	 field[84];	/* FAULT_RECORD: "" = the external ID */
};

struct fk_record {
	size_t	 object;	/* index into cfg.objects */
	char	 ext_field[84];	/* as first sent */
	char	*ext_value;
	char	 id[19];
	cJSON	*fields;
	long	 upserts;
	char	 created_at[40];
	char	 updated_at[40];
	int	 deleted;	/* a tombstone: no longer found, not listed */
};

/* A Contact the query resource finds (seeded by a test). */
struct fk_contact {
	char	 id[19];
	char	*phone;
	char	*name;
};

struct fk_state {
	pthread_mutex_t	 lock;
	struct fk_record *records;
	size_t		 nrecords, records_cap;
	uint32_t	*index;		/* open addressing: record index + 1 */
	size_t		 index_cap;	/* a power of two, > 2 * max_records */
	char		 tokens[FK_TOKENS_MAX][96];
	size_t		 ntokens, next_token;
	struct fk_fault	 faults[FK_FAULTS_MAX];
	struct fp_queue	 fq;
	long		 token_requests, token_failures, token_mints;
	long		 upserts, upsert_calls, collections_calls;
	long		 delete_calls, deletes;	/* DELETE calls, records deleted */
	long		 records_created, records_updated, record_failures;
	long		 api_usage, api_limit;
	unsigned long	 id_counter;
	struct fk_contact contacts[FK_CONTACTS_MAX];
	size_t		 ncontacts;
	long		 queries;	/* query calls answered (any status) */
	char		*query_log[FK_QUERY_LOG];
	long		 query_matches[FK_QUERY_LOG];
	size_t		 query_next;
	/* The connected app's certificates: --cert, then POST /__fake/certs. */
	EVP_PKEY	*certs[FK_CERTS_MAX];
	long		 cert_mints[FK_CERTS_MAX];
	size_t		 ncerts;
};
extern struct fk_state fk;

/* ---- answers (cb-fake-sf.c) ---- */

/* Salesforce's single-resource error: [{"message","errorCode","fields"}]. */
void	 fk_sf_error(struct fh_resp *, int status, const char *code, const char *msg,
	    const char *field);
/* The OAuth error shape of the token endpoint. */
void	 fk_oauth_error(struct fh_resp *, int status, const char *error, const char *desc);
/* Stamp Sforce-Limit-Info; with count, charge the call: -1 (answered 403) past the limit. */
int	 fk_api_call(struct fh_resp *, int count);

/* ---- the token endpoint and the app's certificates (sf/token.c) ---- */

void	 fk_token(struct fh_req *, struct fh_resp *);
/* The RSA key of a certificate (x is freed), or NULL and why in the log. */
EVP_PKEY *fk_cert_key(X509 *x, const char *what);
EVP_PKEY *fk_load_cert(const char *path);

/* ---- the record store and per-record faults (sf/store.c); callers hold fk.lock ---- */

void	 fk_make_id(size_t object, char out[19]);
struct fk_record *fk_find(size_t object, const char *ext_field, const char *value);
void	 fk_clear_records(void);
struct fk_record *fk_store_put(size_t object, const char *ext_field, const char *value,
	    const cJSON *fields, int *created);
int	 fk_room(size_t extra);
int	 fk_target_hits(int target, int call);
int	 fk_record_fault(int call, const char *ext_field, const char *value,
	    const cJSON *fields, struct fk_fault *out);
const char *fk_code_message(const char *code);

/* ---- sObject REST (sf/sobject.c) ---- */

int	 fk_token_valid(const struct fh_req *);
/* The body as JSON (doc, to free): 0, or answered 415 (not JSON) or 400 (unreadable). */
int	 fk_json_body(const struct fh_req *, struct fh_resp *, cJSON **doc);
int	 fk_check_fields(const cJSON *doc, size_t object, const char *ext_field, int single,
	    struct fh_resp *);
/* Everything under /services/data/. */
void	 fk_rest(struct fh_req *, struct fh_resp *);

/* ---- Collections (sf/collections.c) and the query resource (sf/query.c) ---- */

void	 fk_collections(struct fh_req *, struct fh_resp *, size_t object, const char *ext_field);
void	 fk_query(struct fh_req *, struct fh_resp *, const char *ver);
/* Caller holds fk.lock. */
void	 fk_clear_contacts(void);

/* ---- the control plane (sf/control.c) ---- */

/* Everything under /__fake/. */
void	 fk_control(struct fh_req *, struct fh_resp *);
/* Caller holds fk.lock; how many tokens were held. */
size_t	 fk_clear_tokens(void);

#endif
