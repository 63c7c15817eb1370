/*
 * sfconn: a tenant's own Salesforce connection (sql/0017_sf_connections),
 * one statement per operation, shared by the admin route
 * (cgi/salesforce.c), cb-admin (sf-connect, sf-rotate, sf-list, sf-show,
 * org-region) and the worker's Salesforce sink: no statement on
 * sf_connections is written anywhere else.  A tenant without a row
 * delivers through the deployment's default connection (CB_SF_*).
 *
 * Secrets.  The private keys are sealed (purpose tokens, AAD
 * "sf_connections:<org_id>:key") and opened only by sfconn_load, for the
 * worker; no view holds a key, and the audit rows hold the SHA-256 of the
 * key's public half (what the certificate in the connected app holds),
 * never the key.
 *
 * Rotation (seed 003 §6).  A connection holds a current key and at most
 * one next key.  sfconn_rotate installs the next key; for
 * CB_SF_KEY_OVERLAP_S after that, mints try the next key first and fall
 * back to the current one (the worker's side); once the overlap has passed,
 * the next key becomes the current one (sfconn_load and sfconn_version
 * promote it, with an audit row salesforce.key_promoted).  Views give each
 * key's age in days and a warning past CB_SF_KEY_WARN_DAYS.
 *
 * Residency (lib/region.h).  The login URL and the instance URL must map
 * to the tenant's region when the tenant is pinned to one (CB_ERR_RESIDENCY
 * with the rule named); the row is tagged with the login URL's region.
 * The audience is a claim, not a destination: no rule applies to it.
 */
#ifndef CB_SFCONN_H
#define CB_SFCONN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "region.h"

struct db;
struct seal_keyring;
struct settings;

#define SFCONN_URL_MAX		512
#define SFCONN_NAME_MAX		256
#define SFCONN_PEM_MAX		8192	/* a 4096-bit RSA key's PEM is about 3.3 KiB */
#define SFCONN_MAP_OBJECTS	16
#define SFCONN_MAP_FIELDS	64
#define SFCONN_SHA_BUFSZ	65

/* What a caller asks for; validated by sfconn_validate. */
struct sfconn_in {
	const char	*login_url;	/* required: https (plain http only to loopback) */
	const char	*audience;	/* NULL: https://login.salesforce.com */
	const char	*instance_url;	/* NULL: whatever the token answer says */
	const char	*client_id;	/* required */
	const char	*username;	/* required */
	const char	*private_key;	/* PEM; NULL: keep the current key (update only) */
	const cJSON	*mapping;	/* NULL: {} (see sfconn_mapping_check) */
};

/*
 * The object and field mapping: an object whose members are the objects
 * the broker writes (e.g. "Form_Submission__c", "Call_Activity__c"), each
 * {"object"?: API name, "ext_field"?: API name, "fields"?: {broker field:
 * org field, ...}}; at most SFCONN_MAP_OBJECTS objects and
 * SFCONN_MAP_FIELDS fields each.  0, or -1 with *why (a field-hook shape).
 */
int	 sfconn_mapping_check(const cJSON *, const char **why);
/*
 * The same check (the one docs/schemas/salesforce-mapping.schema.json
 * describes; `cb-admin mapping-validate` runs it), naming the place of the
 * error as a JSON pointer in ptr ("" the whole mapping, "/Obj__c/fields/X").
 */
#define SFCONN_PTR_BUFSZ	256
int	 sfconn_mapping_check_at(const cJSON *, char *ptr, size_t ptrsz, const char **why);

/*
 * Shape checks, no database: the URLs, the names, the key (its public
 * half's SHA-256 into key_sha, "" when no key was given), the mapping.
 * CB_OK, or CB_ERR_VALIDATION with the field's name in *field and why.
 */
int	 sfconn_validate(const struct sfconn_in *, char key_sha[SFCONN_SHA_BUFSZ],
	    const char **field, char *why, size_t whysz);

/*
 * Create or replace the tenant's connection (a new key replaces both keys;
 * no key keeps them), with its audit row (salesforce.connected or
 * salesforce.updated: region, key_sha256, config_sha256, cli_user) in the
 * same statement.  actor: "user:<id>" or AUDIT_ACTOR_OPERATOR; cli_user:
 * the unix user of cb-admin, or NULL.  CB_ERR_NOT_FOUND (no such tenant),
 * CB_ERR_VALIDATION (*field "private_key": a new connection needs one),
 * CB_ERR_RESIDENCY (why names the rule), CB_ERR_UNAVAILABLE (no current
 * data key).  *view: the connection (the caller frees it).
 */
int	 sfconn_put(struct db *, const struct seal_keyring *, const struct settings *,
	    const char *org, const struct sfconn_in *, const char *key_sha, const char *actor,
	    const char *cli_user, cJSON **view, const char **field, char *why, size_t whysz)
	    __attribute__((warn_unused_result));

/*
 * Install pem as the next key (replacing a next key not yet promoted),
 * with its audit row salesforce.key_installed.  CB_ERR_NOT_FOUND (no
 * connection), CB_ERR_VALIDATION (why: the key).
 */
int	 sfconn_rotate(struct db *, const struct seal_keyring *, const struct settings *,
	    const char *org, const char *pem, const char *actor, const char *cli_user,
	    cJSON **view, char *why, size_t whysz) __attribute__((warn_unused_result));

/* The tenant's connection (no secrets), or CB_ERR_NOT_FOUND. */
int	 sfconn_get(struct db *, const struct settings *, const char *org, cJSON **view)
	    __attribute__((warn_unused_result));
/* Every tenant's connection: {"connections":[...]} (no secrets). */
int	 sfconn_list(struct db *, const struct settings *, cJSON **view)
	    __attribute__((warn_unused_result));

/* What the worker needs to mint and deliver for one tenant. */
struct sfconn {
	char		 org[24];
	long long	 version;
	char		 region[REGION_BUFSZ];	/* the tenant's pin, "" when none */
	char		*login_url, *audience, *instance_url;	/* instance_url: NULL if unset */
	char		*client_id, *username;
	char		*key_pem;		/* secret: wiped by sfconn_free */
	char		*next_pem;		/* the next key in its overlap, or NULL */
	char		 key_sha[SFCONN_SHA_BUFSZ], next_sha[SFCONN_SHA_BUFSZ];
	cJSON		*mapping;
};

/*
 * The tenant's connection's version (promoting a next key whose overlap
 * has passed first): *version 0 and CB_OK when the tenant has none.
 */
int	 sfconn_version(struct db *, const struct settings *, const char *org,
	    long long *version) __attribute__((warn_unused_result));
/*
 * Load it with its keys opened (promoting first).  CB_ERR_NOT_FOUND: the
 * tenant has none; CB_ERR_CRYPTO: a key does not open.  sfconn_free wipes.
 */
int	 sfconn_load(struct db *, const struct seal_keyring *, const struct settings *,
	    const char *org, struct sfconn *) __attribute__((warn_unused_result));
void	 sfconn_free(struct sfconn *);

/*
 * Pin a tenant to a region (NULL or "-": unpin), with its audit row
 * org.region_set.  Refused with CB_ERR_RESIDENCY (why names the rule) when
 * the region is not this deployment's (CB_REGION), when a current data key
 * is not tagged with it, or when the tenant's Salesforce connection or a
 * webhook endpoint is tagged with another region or none.  CB_ERR_NOT_FOUND,
 * CB_ERR_VALIDATION (not a region).
 */
int	 sfconn_org_region_set(struct db *, const struct settings *, const char *org,
	    const char *region, const char *cli_user, char *why, size_t whysz)
	    __attribute__((warn_unused_result));

#endif
