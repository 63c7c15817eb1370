/*
 * sf_int: what the three files of the Salesforce client share, and nothing
 * else may include (outside lib/sf*.c, use sf.h).
 *
 *   sf.c		the client and its configuration, the one door to
 *			lib/httpc, the outcome helpers and classification of
 *			transport failures
 *   sf_token.c	the RSA key, the RS256 JWT bearer assertion, minting,
 *			the token cache and its hook
 *   sf_records.c	the single-record upsert by external id, and the
 *			sorting of an error answer every call shares
 *   sf_query.c	the query resource: the contact lookup by phone
 *
 * The client is one struct, owned by sf.c; sf_token.c alone touches the
 * key and the token fields except through sf_drop_token().
 */
#ifndef CB_SF_INT_H
#define CB_SF_INT_H

#include <stddef.h>

#include <openssl/types.h>

#include "egress.h"
#include "httpc.h"
#include "sf.h"

/* Real tokens are ~112 characters; anything far longer is not a token. */
#define SF_TOKEN_MAX		2048u
#define SF_URL_MAX		512u
#define SF_CONF_STR_MAX		512u

struct sf_client {
	char		*login_url;	/* no trailing slash */
	char		*audience;
	char		*client_id;
	char		*username;
	char		*api_version;
	long		 connect_timeout_ms;
	long		 timeout_ms;
	int		 login_plain;	/* login_url is plain http (loopback only) */
	int		 login_loop;	/* login_url's host is loopback */
	char		 login_hp[EGRESS_HOSTPORT_MAX];	/* its host:port if loopback, else "" */
	struct httpc	*http;		/* every request goes through it */
	int		 own_http;	/* http is ours: made, rebuilt and freed here */
	char		 inst_hp[EGRESS_HOSTPORT_MAX];	/* a loopback instance our own
						   http allows too, else "" */
	EVP_PKEY	*pkey;
	char		*token;		/* secret; wiped when dropped */
	char		*instance_url;	/* no trailing slash */
	int		 oauth_failed;
	double		 oauth_failed_at;
	struct sf_result oauth_failure;
	sf_token_hook	 on_token;	/* after a mint: the external cache */
	void		*on_token_ud;
};

static inline int
sf_is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline int
sf_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* ---- sf.c ------------------------------------------------------------ */

/* Text for a result field, cut only between UTF-8 sequences. */
void	 sf_copy_text(char *out, size_t outsz, const char *in);
/*
 * A Salesforce error message as it may be stored and logged: Salesforce
 * echoes the value it refused after the first ": " ("invalid email
 * address: x@y.example"), so what follows it is withheld; before it,
 * anything shaped like an email address or holding six digits or more is
 * masked; a control character becomes a space.  out holds at most
 * outsz - 1 bytes, cut between UTF-8 sequences.
 */
void	 sf_mask_message(char *out, size_t outsz, const char *in);
/* An error code: [A-Za-z0-9_] only, so it is safe anywhere. */
void	 sf_copy_code(char *out, size_t outsz, const char *in);
void	 sf_set(struct sf_result *, int kind, int status, const char *code,
	    const char *msg);
/* The cb_err code that goes with a finished result (see sf.h). */
int	 sf_rc(const struct sf_result *);

/*
 * An instance URL the token may be sent to (from a token answer or
 * sf_set_token): an http(s) base URL, plain http only when the login URL
 * is plain too.  With the client's own httpc, a loopback instance beside a
 * loopback login is added to its private allowlist (the fake).  CB_OK and
 * the copy without a trailing slash in *out, else CB_ERR_VALIDATION.
 */
int	 sf_instance_take(struct sf_client *, const char *url, char **out);

/*
 * One request through the client's httpc with its timeouts and response
 * cap.  headers: NULL-terminated, at most HTTPC_HEADERS_MAX - 1.  Logs
 * Sforce-Limit-Info at debug.  resp is always filled: httpc_resp_free it.
 */
void	 sf_http(struct sf_client *, const char *method, const char *url,
	    const char *const *headers, const char *body, size_t bodylen,
	    struct httpc_resp *resp);

/* No usable HTTP answer: r filled from the transport error, and 1 (c may be NULL). */
int	 sf_transport_failed(const struct sf_client *,
	    const struct httpc_resp *, struct sf_result *r);

/* ---- sf_records.c ---------------------------------------------------- */

/*
 * An HTTP answer that is not a success into r: the first entry of the error
 * array (CONTRACTS §3.5), SF_RETRY for 5xx, 401 (still refused with a fresh
 * token), 408, 429, 403 REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW and
 * SERVER_UNAVAILABLE, SF_PERMANENT for the rest.
 */
void	 sf_classify_error(const struct httpc_resp *, struct sf_result *r);

/* ---- sf_token.c ------------------------------------------------------ */

/* Load and check the RSA key (>= 2048 bits).  CB_OK, or err filled. */
int	 sf_key_load(const char *path, EVP_PKEY **out, char *err, size_t errsz);
int	 sf_key_load_pem(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errsz);
void	 sf_key_free(EVP_PKEY *);

/* Drop (and wipe) the cached token and instance URL. */
void	 sf_drop_token(struct sf_client *);

/* Mint a token into the cache.  CB_OK, or r filled and its rc returned. */
int	 sf_mint(struct sf_client *, struct sf_result *r);

#endif
