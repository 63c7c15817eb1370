/*
 * cb-admin's key commands: signing-key-rotate, data-key-rotate, key-ages,
 * reseal, subject-index and audit verify (usage: tools/cb-admin.c).  Each
 * is a library call (lib/signkeys.h, lib/keyring.h, lib/reseal.h,
 * lib/subject.h, lib/audit.h) with its result printed; no key is printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "admin.h"
#include "audit.h"
#include "errs.h"
#include "keyring.h"
#include "route.h"
#include "reseal.h"
#include "signkeys.h"
#include "subject.h"
#include "util.h"

int
cmd_signing_key_rotate(struct admin *a, int argc, char **argv)
{
	struct signkeys_rotation res;
	struct app		 app;
	long long		 lead = SIGNKEYS_LEAD_S, retired = 0;
	int			 i, rc, wait = 0, tries, waited = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else if (strcmp(argv[i], "--lead") == 0 && i + 1 < argc &&
		    util_parse_ll(argv[i + 1], SIGNKEYS_LEAD_MIN_S, 86400, &lead) == CB_OK)
			i++;
		else
			return fail("usage: signing-key-rotate [--lead SECONDS (%d..86400)] [--wait]",
			    SIGNKEYS_LEAD_MIN_S);
	}
	if (admin_app_open(a, &app))
		return 1;
	for (tries = 0; ; tries++) {
		rc = signkeys_rotate(a->db, app_keys(&app), a->s.access_ttl_s, (int)lead, &res);
		retired += res.retired;
		if (rc != CB_ERR_CONFLICT || res.wait_s <= 0 || !wait || tries == 3)
			break;
		/* The next key is too young for verifiers' caches: let it age. */
		fprintf(stderr, "cb-admin: next key %s published less than %llds ago;"
		    " waiting %ds\n", res.next, lead, res.wait_s);
		sleep((unsigned)res.wait_s);
		waited += res.wait_s;
	}
	admin_app_close(&app);
	if (rc == CB_ERR_CONFLICT && res.wait_s > 0)
		return fail("the next key %s has been published for less than %llds: verifiers"
		    " may not hold it yet; retry in %ds (or pass --wait)", res.next, lead, res.wait_s);
	if (rc != CB_OK)
		return fail("rotation failed: %s %s", errs_name(rc), db_errmsg(a->db));
	if (res.bootstrapped) {
		printf("{\"bootstrapped\":true,\"active\":\"%s\",\"next\":\"%s\"}\n",
		    res.active, res.next);
		return 0;
	}
	printf("{\"active\":\"%s\",\"retiring\":\"%s\",\"retire_after\":\"%s\",\"next\":\"%s\","
	    "\"retired\":%lld,\"waited_s\":%d}\n", res.active, res.retiring, res.retire_after,
	    res.next, retired, waited);
	return 0;
}

/*
 * data-key-rotate PURPOSE: a new current data key for "pii" or "tokens".
 * Old keys stay loadable, so every value still opens; running processes
 * seal new values under the new key within KEYRING_CHECK_MS.  Then run
 * `reseal` to move the existing values.
 */
int
cmd_data_key_rotate(struct admin *a, int argc, char **argv)
{
	struct keyring	 k;
	char		 err[512] = "";
	int		 id = 0, rc;

	if (argc != 1 || keyring_purpose(argv[0]) < 0)
		return fail("usage: data-key-rotate pii|tokens");
	rc = keyring_open(&k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK) {
		keyring_close(&k);
		return fail("cannot load the data keys: %s", err[0] ? err : errs_name(rc));
	}
	rc = keyring_rotate(&k, a->db, argv[0], &id);
	keyring_close(&k);
	if (rc != CB_OK)
		return fail("data-key-rotate %s: %s", argv[0], errs_name(rc));
	/* The new key is tagged with this deployment's region (docs/residency.md). */
	snprintf(err, sizeof(err), "%d", id);
	if (a->s.region != NULL && a->s.region[0] != '\0' &&
	    db_exec(a->db, "UPDATE data_keys SET region = $3 WHERE purpose = $1 AND id = $2::int", 3,
	    (const char *[]){ argv[0], err, a->s.region }) != CB_OK)
		return fail("data-key-rotate %s: the key was made but not tagged with region %s: %s",
		    argv[0], a->s.region, db_errmsg(a->db));
	/* argv[0] is "pii" or "tokens" (checked above), the region one of the table's. */
	printf("{\"purpose\":\"%s\",\"key_id\":%d,\"state\":\"current\",\"region\":", argv[0],
	    id);
	if (a->s.region != NULL && a->s.region[0] != '\0')
		printf("\"%s\"}\n", a->s.region);
	else
		printf("null}\n");
	return 0;
}

/*
 * key-ages: every key in use and its age (KEYRING_AGES_SQL); a line names
 * each one older than CB_KEY_WARN_DAYS, and the exit status is 3 then, so
 * a scheduled job can raise it.  Rotation: data-key-rotate then reseal for
 * a data key, signing-key-rotate for the signing key (docs/runbook.md).
 */
int
cmd_key_ages(struct admin *a, int argc, char **argv)
{
	struct db_res	*res = NULL;
	size_t		 i;
	double		 days;
	int		 old = 0, due;

	(void)argv;
	if (argc != 0)
		return fail("usage: key-ages");
	if (db_query(a->db, &res, KEYRING_AGES_SQL, 0, NULL) != CB_OK)
		return fail("key-ages: %s", db_errmsg(a->db));
	printf("%-8s %-8s %-7s %-24s %8s\n", "KIND", "PURPOSE", "REGION", "KEY", "AGE_DAYS");
	for (i = 0; i < db_rows(res); i++) {
		days = strtod(db_val(res, i, 4), NULL) / 86400.0;
		due = days > (double)a->s.key_warn_days;
		printf("%-8s %-8s %-7s %-24s %8.1f%s\n", db_val(res, i, 0), db_val(res, i, 1),
		    db_val(res, i, 2)[0] ? db_val(res, i, 2) : "-", db_val(res, i, 3), days,
		    due ? "  ROTATE" : "");
		old += due;
	}
	db_res_free(res);
	if (old > 0) {
		fprintf(stderr, "key-ages: %d key(s) older than %lld days (CB_KEY_WARN_DAYS): rotate"
		    " them (data-key-rotate and reseal; signing-key-rotate)\n", old,
		    a->s.key_warn_days);
		return 3;
	}
	return 0;
}

static void
reseal_progress(const char *table, long done, long total, void *ud)
{
	(void)ud;
	/* stdout carries the one JSON answer; progress goes to stderr. */
	fprintf(stderr, "reseal: %s %ld/%ld\n", table, done, total);
}

/*
 * reseal [BATCH]: move every sealed value onto its purpose's current data
 * key, BATCH rows at a time, while the service runs.  Safe to interrupt
 * and to run again.
 */
int
cmd_reseal(struct admin *a, int argc, char **argv)
{
	struct keyring	 k;
	struct db_res	*res = NULL;
	char		 err[512] = "";
	long long	 batch = RESEAL_BATCH_DEFAULT, age_ms = 0;
	long		 retired = 0, stale = 0;
	int		 rc;

	if (argc > 1 || (argc == 1 &&
	    util_parse_ll(argv[0], 1, RESEAL_BATCH_MAX, &batch) != CB_OK))
		return fail("usage: reseal [BATCH]  (1..%d rows per batch)", RESEAL_BATCH_MAX);
	rc = keyring_open(&k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK) {
		keyring_close(&k);
		return fail("cannot load the data keys: %s", err[0] ? err : errs_name(rc));
	}
	/*
	 * Right after a rotation, running processes may still seal under the
	 * previous key for up to KEYRING_CHECK_MS: wait that out, so this run
	 * also catches what they wrote meanwhile.
	 */
	if (db_query(a->db, &res, "SELECT coalesce(floor(extract(epoch FROM now() - max(created_at))"
	    " * 1000), 1e9)::bigint FROM data_keys WHERE state = 'current'", 0, NULL) == CB_OK &&
	    db_rows(res) == 1)
		(void)util_parse_ll(db_val(res, 0, 0), -(1LL << 40), 1LL << 40, &age_ms);
	db_res_free(res);
	if (age_ms < (long long)KEYRING_CHECK_MS + 1000) {
		long long	 wait_ms = (long long)KEYRING_CHECK_MS + 1000 - age_ms;
		struct timespec	 ts = { (time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L };

		fprintf(stderr, "reseal: waiting %lld ms for running processes to load the new key\n",
		    wait_ms);
		nanosleep(&ts, NULL);
	}
	rc = reseal_run(a->db, &k, (int)batch, reseal_progress, NULL);
	if (rc == CB_OK)
		rc = reseal_retire(a->db, &k, &retired, &stale);
	keyring_close(&k);
	if (rc == CB_ERR_CRYPTO)
		return fail("reseal: some values do not open and were left as they are"
		    " (reseal_unopenable lines above name their table and key)");
	if (rc != CB_OK)
		return fail("reseal: %s", errs_name(rc));
	if (stale > 0)
		fprintf(stderr, "reseal: %ld values were written under an older key meanwhile;"
		    " run reseal again to retire it\n", stale);
	printf("{\"resealed\":true,\"retired_keys\":%ld,\"stale_values\":%ld}\n", retired, stale);
	return 0;
}

/*
 * audit verify: walk the audit trail's hash chain from its first row and
 * name the first row altered, removed or moved (exit 1), else print what
 * was verified (exit 0).  Rows not sealed yet are counted, not covered.
 */
int
cmd_audit(struct admin *a, int argc, char **argv)
{
	struct audit_report	 r;
	int			 rc;

	if (argc != 1 || strcmp(argv[0], "verify") != 0)
		return fail("usage: audit verify");
	rc = audit_verify(a->db, &r);
	if (rc == CB_ERR_CRYPTO) {
		if (r.bad_id > 0)
			return fail("audit: the chain is broken at chain_seq %lld (row id %lld): %s",
			    r.bad_seq, r.bad_id, r.why);
		return fail("audit: the chain is broken at chain_seq %lld: %s", r.bad_seq, r.why);
	}
	if (rc != CB_OK)
		return fail("audit: cannot read the trail: %s", errs_name(rc));
	printf("{\"verified\":true,\"rows\":%lld,\"unsealed\":%lld,\"head_seq\":%lld,"
	    "\"head_hash\":\"%s\"}\n", r.rows, r.unsealed, r.head_seq, r.head_hash);
	return 0;
}

/*
 * subject-index [--rewrite] [BATCH]: the blind-index entries of rows
 * written before migration 0021 (lib/subject.h), so an erasure finds them
 * too.  Entries already there stay: it may run again at any time.  After a
 * rotation of the blind index key, --rewrite replaces every row's entries
 * with those under the new key.
 */
int
cmd_subject_index(struct admin *a, int argc, char **argv)
{
	struct keyring		 k;
	struct seal_keyring	*kr;
	struct subject_backfill	 out;
	char			 err[512] = "";
	long long		 batch = 500;
	int			 rc, rewrite = 0;

	if (argc > 0 && strcmp(argv[0], "--rewrite") == 0) {
		rewrite = 1;
		argc--;
		argv++;
	}
	if (argc > 1 || (argc == 1 && util_parse_ll(argv[0], 1, 10000, &batch) != CB_OK))
		return fail("usage: subject-index [--rewrite] [BATCH]  (1..10000 rows per statement)");
	rc = keyring_open(&k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK || (kr = keyring_get(&k, a->db)) == NULL) {
		keyring_close(&k);
		return fail("cannot load the data keys: %s", err[0] ? err : errs_name(rc));
	}
	rc = subject_backfill(a->db, kr, a->s.blind_index_key, (int)batch, rewrite, &out);
	keyring_close(&k);
	if (rc != CB_OK && rc != CB_ERR_CRYPTO)
		return fail("subject-index: %s", errs_name(rc));
	printf("{\"submissions\":%ld,\"commands\":%ld,\"call_events\":%ld,\"entries\":%ld,"
	    "\"undecryptable\":%ld}\n", out.submissions, out.commands, out.call_events,
	    out.entries, out.undecryptable);
	if (rc == CB_ERR_CRYPTO)
		return fail("subject-index: %ld sealed values do not open: they are not indexed",
		    out.undecryptable);
	return 0;
}
