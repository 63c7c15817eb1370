/*
 * deadletter: the outbox's dead letters, for operators, without SQL.  The
 * admin routes (cgi/deadletters.c) and `cb-admin dead-letters` call these
 * and nothing else touches dead letters, so both answer the same way.
 *
 * Tenant-scoped: every statement filters on org_id, so another
 * organisation's id (and an operators' row without one) is "not found".
 *
 * A dead letter is an outbox row that is, or once was, in state dead
 * (state dead or discarded, or replayed at least once); any other row is
 * "not found" here.  The list shows the rows dead now, newest first (by
 * outbox id, the order they were written), a page at a time by keyset.
 *
 * What leaves this module is the row's bookkeeping only: never the payload
 * nor its sealed field values (personal data).  last_error is shown to the
 * operator but never logged: it may echo record data.
 *
 *   replay:  dead -> pending, attempts 0, run_after now(), last_error
 *            cleared, replays + 1.  Then wake the worker (DEADLETTER_WAKE_*).
 *   discard: dead -> discarded: kept for the record, never delivered.
 *
 * Both move a row only out of state dead, in one statement that locks the
 * row, so two concurrent replays cannot both succeed: the second finds the
 * row pending and gets CB_ERR_CONFLICT.  A replayed row is delivered once.
 */
#ifndef CB_DEADLETTER_H
#define CB_DEADLETTER_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct db;

#define DEADLETTER_LIMIT_DEFAULT	50
#define DEADLETTER_LIMIT_MAX		200
#define DEADLETTER_KIND_MAX		63
/* Redis pub/sub channel and message that wake the outbox worker. */
#define DEADLETTER_WAKE_CHANNEL		"cb:outbox"
#define DEADLETTER_WAKE_MESSAGE		"replay"

struct deadletter {
	char		 id[24];		/* outbox id, decimal */
	char		 org[24];		/* org id, decimal */
	char		 kind[DEADLETTER_KIND_MAX + 1];
	char		 ref_id[37];		/* "" when the row has none */
	char		 state[16];		/* dead, pending, running, done, discarded */
	long long	 attempts, max_attempts, replays;
	char		 last_error[2048];	/* "" when none; cut at 500 characters */
	char		 created_at[32];	/* RFC 3339 UTC */
	char		 dead_at[32];		/* "" when not (or no longer) dead */
};

struct deadletter_page {
	struct deadletter	*items;
	size_t			 n;
	char			 next_cursor[24];	/* "" on the last page */
};

/* 1 if s is a well-formed outbox id (decimal, 1 .. 2^63-1). */
int	 deadletter_id_ok(const char *s);
/* 1 if s is a well-formed cursor (what next_cursor holds). */
int	 deadletter_cursor_ok(const char *s);
/* 1 if s looks like an outbox kind ("salesforce.upsert"). */
int	 deadletter_kind_ok(const char *s);

/*
 * The organisation's rows dead now, newest first: at most `limit`
 * (1..DEADLETTER_LIMIT_MAX) older than `cursor` (NULL or "" = from the
 * newest), of `kind` (NULL = any).  CB_ERR_VALIDATION on a bad argument.
 * Free with deadletter_page_free.
 */
int	 deadletter_list(struct db *, const char *org, const char *kind, const char *cursor,
	    long long limit, struct deadletter_page *)
	    __attribute__((warn_unused_result));
void	 deadletter_page_free(struct deadletter_page *);

/* One dead letter of the organisation; CB_ERR_NOT_FOUND otherwise. */
int	 deadletter_show(struct db *, const char *org, const char *id, struct deadletter *)
	    __attribute__((warn_unused_result));
/*
 * Replay / discard one dead letter; *out gets the row as it is after.
 * The same statement writes its audit_log row (lib/audit.h): actor
 * ("user:<id>" or AUDIT_ACTOR_OPERATOR), action dead_letter.replayed or
 * dead_letter.discarded, subject the outbox id, detail its kind, ref_id
 * and replays; a row that did not move writes none.
 * CB_ERR_NOT_FOUND (not a dead letter of this organisation),
 * CB_ERR_CONFLICT (not dead now: *out says which state it is in).
 */
int	 deadletter_replay(struct db *, const char *org, const char *id, const char *actor,
	    struct deadletter *out) __attribute__((warn_unused_result));
int	 deadletter_discard(struct db *, const char *org, const char *id, const char *actor,
	    struct deadletter *out) __attribute__((warn_unused_result));

/* The operator's view of one dead letter (no payload, ever). */
cJSON	*deadletter_json(const struct deadletter *);
/* {"dead_letters":[...],"next_cursor":"..."|null} */
cJSON	*deadletter_page_json(const struct deadletter_page *);

/*
 * The audit line of an action: event dead_letter_replayed or
 * dead_letter_discarded with outbox_id, org, actor ("user:<id>" or
 * "cli:<unix user>") and kind.  Never last_error nor the payload.
 */
void	 deadletter_audit(const char *event, const struct deadletter *, const char *actor);

#endif
