/*
 * cb-admin dead-letters (usage: tools/cb-admin.c): the outbox's dead
 * letters of one organisation through lib/deadletter.h, as the admin routes
 * reach them; replay and discard are audited and replay wakes the worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "audit.h"
#include "deadletter.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "util.h"

static int
dead_letters_list(struct admin *a, const char *org, int argc, char **argv)
{
	struct deadletter_page	 page;
	const char		*kind = NULL, *cursor = NULL;
	long long		 limit = DEADLETTER_LIMIT_DEFAULT;
	int			 i, rc;

	for (i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--kind") == 0 && deadletter_kind_ok(argv[i + 1]))
			kind = argv[i + 1];
		else if (strcmp(argv[i], "--cursor") == 0 && deadletter_cursor_ok(argv[i + 1]))
			cursor = argv[i + 1];
		else if (strcmp(argv[i], "--limit") != 0 ||
		    util_parse_ll(argv[i + 1], 1, DEADLETTER_LIMIT_MAX, &limit) != CB_OK)
			break;
	}
	if (i != argc)
		return fail("usage: dead-letters list ORG [--kind KIND] [--cursor CURSOR]"
		    " [--limit 1..%d]", DEADLETTER_LIMIT_MAX);
	if ((rc = deadletter_list(a->db, org, kind, cursor, limit, &page)) != CB_OK)
		return fail("dead-letters list: %s %s", errs_name(rc), db_errmsg(a->db));
	admin_print_json(deadletter_page_json(&page));
	deadletter_page_free(&page);
	return 0;
}

/*
 * dead-letters list|show|replay|discard ORG ...: see the top of the file.
 * Replay and discard are audited like the admin routes' (the configured
 * log level applies, so the audit line is not hidden by the CLI's quiet
 * default).
 */
int
cmd_dead_letters(struct admin *a, int argc, char **argv)
{
	struct deadletter	 d;
	enum log_level		 lvl;
	const char		*event = NULL;
	char			 org[24];
	int			 rc;

	if (argc < 2)
		return fail("usage: dead-letters list ORG [--kind KIND] [--cursor CURSOR] [--limit N]"
		    " | dead-letters show|replay|discard ORG ID");
	if (admin_org_resolve(a, argv[1], org, sizeof(org)))
		return 1;
	if (strcmp(argv[0], "list") == 0)
		return dead_letters_list(a, org, argc - 2, argv + 2);
	if (argc != 3)
		return fail("usage: dead-letters %s ORG ID", argv[0]);
	if (log_level_parse(a->s.log_level, &lvl) == 0)
		log_set_min(lvl);
	if (strcmp(argv[0], "show") == 0)
		rc = deadletter_show(a->db, org, argv[2], &d);
	else if (strcmp(argv[0], "replay") == 0) {
		rc = deadletter_replay(a->db, org, argv[2], AUDIT_ACTOR_OPERATOR, &d);
		event = "dead_letter_replayed";
	} else if (strcmp(argv[0], "discard") == 0) {
		rc = deadletter_discard(a->db, org, argv[2], AUDIT_ACTOR_OPERATOR, &d);
		event = "dead_letter_discarded";
	} else
		return fail("dead-letters: list, show, replay or discard");
	if (rc == CB_ERR_NOT_FOUND)
		return fail("no dead letter %s in organisation %s", argv[2], argv[1]);
	if (rc == CB_ERR_CONFLICT)
		return fail("dead letter %s is %s, not dead", d.id, d.state);
	if (rc != CB_OK)
		return fail("dead-letters %s: %s %s", argv[0], errs_name(rc), db_errmsg(a->db));
	if (event)
		deadletter_audit(event, &d, a->actor);
	if (strcmp(argv[0], "replay") == 0) {
		/* Wake the worker; a lost wake-up only waits for its sweep. */
		struct kv	*kv = kv_open(a->s.redis_host, (int)a->s.redis_port,
		    a->s.redis_password, (int)a->s.redis_timeout_ms);

		kv_publish(kv, DEADLETTER_WAKE_CHANNEL, DEADLETTER_WAKE_MESSAGE);
		kv_close(kv);
	}
	admin_print_json(deadletter_json(&d));
	return 0;
}
