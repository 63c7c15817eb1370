/*
 * cb-migrate: apply, roll back and list the numbered SQL migrations in sql/.
 *
 *   cb-migrate [--dir DIR] up        apply every pending migration, in order
 *   cb-migrate [--dir DIR] up --to N apply the pending ones numbered N or lower
 *                                    (an expand step deployed alone: README)
 *   cb-migrate [--dir DIR] down      roll back the latest applied migration
 *   cb-migrate [--dir DIR] status    list applied and pending migrations
 *
 * Files are NNNN_name.up.sql with a matching NNNN_name.down.sql.  Each step
 * runs in its own transaction together with its row in schema_migrations
 * (version, name, SHA-256 of the up file), so a failed migration leaves no
 * trace.  A session advisory lock keeps two runners from interleaving.  If
 * an applied migration's file changed or vanished, the runner refuses to do
 * anything: history is not rewritten silently.
 *
 * Connection: CB_PG_OWNER_DSN (environment or CB_CONFIG_FILE), the owner
 * role's: migrations create and alter what the application's role (CB_PG_DSN)
 * only uses, and grant it that use (sql/0013_roles.up.sql,
 * docs/operations.md).  Kept apart from the services' configuration.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "errs.h"
#include "log.h"
#include "util.h"

#define MIG_MAX		1000
#define MIG_FILE_MAX	(4u * 1024u * 1024u)
#define MIG_LOCK	"7426001"	/* advisory lock id: "cb-migrate" */

struct mig {
	int	 version;
	char	 name[128];	/* "0001_core" */
	char	 sum[65];
	int	 applied;
	char	 applied_sum[65];
};

struct mig_conf {
	char	*pg_dsn;
};

static const struct conf_var mig_vars[] = {
	{ "CB_PG_OWNER_DSN", CONF_STR, CONF_REQUIRED | CONF_SECRET, NULL, 1, 1024,
	  offsetof(struct mig_conf, pg_dsn), "libpq connection string of the owner role" },
};

static int
mig_read(const char *dir, const char *name, const char *suffix, struct buf *out)
{
	char	 path[1024];
	FILE	*f;
	char	 chunk[8192];
	size_t	 n;
	int	 rc = CB_OK;

	snprintf(path, sizeof(path), "%s/%s.%s.sql", dir, name, suffix);
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "cb-migrate: %s: %s\n", path, strerror(errno));
		return CB_ERR_IO;
	}
	buf_init(out, MIG_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((rc = buf_append(out, chunk, n)) != CB_OK) {
			fprintf(stderr, "cb-migrate: %s: larger than %u bytes\n", path, MIG_FILE_MAX);
			break;
		}
	fclose(f);
	if (rc != CB_OK)
		buf_free(out);
	return rc;
}

static int
mig_checksum(const char *dir, const char *name, char out[65])
{
	struct buf	 b;
	unsigned char	 h[crypto_hash_sha256_BYTES];
	int		 rc;

	if ((rc = mig_read(dir, name, "up", &b)) != CB_OK)
		return rc;
	crypto_hash_sha256(h, (const unsigned char *)buf_cstr(&b), b.len);
	util_hex(out, h, sizeof(h));
	buf_free(&b);
	return CB_OK;
}

static int
mig_cmp(const void *a, const void *b)
{
	return ((const struct mig *)a)->version - ((const struct mig *)b)->version;
}

/* Find NNNN_name.up.sql files; each needs its .down.sql. */
static int
mig_scan(const char *dir, struct mig *m, size_t *n)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 len, i;
	char		 down[1024];
	long long	 v;
	char		 num[5];
	FILE		*f;

	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "cb-migrate: %s: %s\n", dir, strerror(errno));
		return CB_ERR_IO;
	}
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len < 12 || strcmp(e->d_name + len - 7, ".up.sql") != 0)
			continue;
		if (len - 7 >= sizeof(m[0].name) || *n == MIG_MAX || e->d_name[4] != '_') {
			fprintf(stderr, "cb-migrate: bad migration file name %s\n", e->d_name);
			closedir(d);
			return CB_ERR_CONFIG;
		}
		memcpy(num, e->d_name, 4);
		num[4] = '\0';
		if (util_parse_ll(num, 1, 9999, &v) != CB_OK) {
			fprintf(stderr, "cb-migrate: %s: must start with a 4-digit version\n", e->d_name);
			closedir(d);
			return CB_ERR_CONFIG;
		}
		memset(&m[*n], 0, sizeof(m[*n]));
		m[*n].version = (int)v;
		memcpy(m[*n].name, e->d_name, len - 7);
		m[*n].name[len - 7] = '\0';
		snprintf(down, sizeof(down), "%s/%s.down.sql", dir, m[*n].name);
		if ((f = fopen(down, "r")) == NULL) {
			fprintf(stderr, "cb-migrate: %s has no %s.down.sql\n", e->d_name, m[*n].name);
			closedir(d);
			return CB_ERR_CONFIG;
		}
		fclose(f);
		(*n)++;
	}
	closedir(d);
	qsort(m, *n, sizeof(*m), mig_cmp);
	for (i = 1; i < *n; i++)
		if (m[i].version == m[i - 1].version) {
			fprintf(stderr, "cb-migrate: two migrations share version %04d\n", m[i].version);
			return CB_ERR_CONFIG;
		}
	for (i = 0; i < *n; i++)
		if (mig_checksum(dir, m[i].name, m[i].sum) != CB_OK)
			return CB_ERR_IO;
	return CB_OK;
}

/* Mark applied migrations; refuse on changed or missing files. */
static int
mig_load_applied(struct db *db, struct mig *m, size_t n)
{
	struct db_res	*res = NULL;
	size_t		 r, i;
	long long	 v;
	int		 rc;

	rc = db_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version integer PRIMARY KEY, name text NOT NULL,"
	    " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL);
	if (rc != CB_OK) {
		fprintf(stderr, "cb-migrate: cannot create schema_migrations: %s\n", db_errmsg(db));
		return rc;
	}
	if ((rc = db_query(db, &res, "SELECT version, name, checksum FROM schema_migrations"
	    " ORDER BY version", 0, NULL)) != CB_OK) {
		fprintf(stderr, "cb-migrate: %s\n", db_errmsg(db));
		return rc;
	}
	for (r = 0; r < db_rows(res); r++) {
		(void)util_parse_ll(db_val(res, r, 0), 0, 9999, &v);
		for (i = 0; i < n; i++)
			if (m[i].version == (int)v)
				break;
		if (i == n) {
			fprintf(stderr, "cb-migrate: refusing: applied migration %s has no file\n",
			    db_val(res, r, 1));
			db_res_free(res);
			return CB_ERR_CONFLICT;
		}
		m[i].applied = 1;
		util_strlcpy(m[i].applied_sum, db_val(res, r, 2), sizeof(m[i].applied_sum));
		if (strcmp(m[i].applied_sum, m[i].sum) != 0) {
			fprintf(stderr, "cb-migrate: refusing: %s changed after it was applied "
			    "(applied %.12s, file %.12s); write a new migration instead\n",
			    m[i].name, m[i].applied_sum, m[i].sum);
			db_res_free(res);
			return CB_ERR_CONFLICT;
		}
	}
	db_res_free(res);
	for (i = 1; i < n; i++)
		if (m[i].applied && !m[i - 1].applied) {
			fprintf(stderr, "cb-migrate: refusing: %s is applied but the earlier %s is not\n",
			    m[i].name, m[i - 1].name);
			return CB_ERR_CONFLICT;
		}
	return CB_OK;
}

static int
mig_step(struct db *db, const char *dir, struct mig *m, int up)
{
	struct buf	 sql;
	char		 ver[16];
	const char	*p[3];
	double		 t0 = util_now_ms();
	int		 rc;

	if ((rc = mig_read(dir, m->name, up ? "up" : "down", &sql)) != CB_OK)
		return rc;
	snprintf(ver, sizeof(ver), "%d", m->version);
	if ((rc = db_begin(db)) != CB_OK)
		goto out;
	if ((rc = db_exec_script(db, buf_cstr(&sql))) != CB_OK) {
		fprintf(stderr, "cb-migrate: %s %s failed: %s\n", m->name, up ? "up" : "down",
		    db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	p[0] = ver;
	p[1] = m->name;
	p[2] = m->sum;
	if (up)
		rc = db_exec(db, "INSERT INTO schema_migrations (version, name, checksum)"
		    " VALUES ($1, $2, $3)", 3, p);
	else
		rc = db_exec(db, "DELETE FROM schema_migrations WHERE version = $1", 1, p);
	if (rc != CB_OK) {
		fprintf(stderr, "cb-migrate: %s: %s\n", m->name, db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	if ((rc = db_commit(db)) != CB_OK) {
		fprintf(stderr, "cb-migrate: %s: commit failed: %s\n", m->name, db_errmsg(db));
		goto out;
	}
	printf("%s %s (%.0f ms)\n", up ? "applied" : "rolled back", m->name, util_now_ms() - t0);
out:
	buf_free(&sql);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cb-migrate [--dir DIR] up [--to VERSION]|down|status\n");
}

int
main(int argc, char **argv)
{
	struct mig_conf	 conf = { 0 };
	struct mig	*m = NULL;
	struct db	*db = NULL;
	const char	*dir = "sql", *cmd = NULL;
	const char	*lock[1] = { MIG_LOCK };
	char		 err[512];
	size_t		 n = 0, i, pending = 0;
	long long	 to = 0;		/* up --to: the last version applied, 0 = all */
	int		 rc = 1, a;

	log_init("cb-migrate", LOG_LVL_WARN);
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--dir") == 0 && a + 1 < argc)
			dir = argv[++a];
		else if (strcmp(argv[a], "--to") == 0 && a + 1 < argc &&
		    util_parse_ll(argv[a + 1], 1, 9999, &to) == CB_OK)
			a++;
		else if (cmd == NULL && (strcmp(argv[a], "up") == 0 ||
		    strcmp(argv[a], "down") == 0 || strcmp(argv[a], "status") == 0))
			cmd = argv[a];
		else {
			usage();
			return 2;
		}
	}
	if (cmd == NULL || (to != 0 && strcmp(cmd, "up") != 0)) {
		usage();
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	if (conf_load(mig_vars, 1, &conf, NULL, err, sizeof(err)) != CB_OK) {
		fprintf(stderr, "cb-migrate: %s\n", err);
		return 2;
	}
	m = util_calloc(MIG_MAX, sizeof(*m));
	if (mig_scan(dir, m, &n) != CB_OK)
		goto out;
	db = db_open(conf.pg_dsn);
	if (db_connect(db) != CB_OK) {
		fprintf(stderr, "cb-migrate: cannot connect: %s\n", db_errmsg(db));
		goto out;
	}
	if (db_exec(db, "SELECT pg_advisory_lock($1)", 1, lock) != CB_OK) {
		fprintf(stderr, "cb-migrate: cannot take the migration lock: %s\n", db_errmsg(db));
		goto out;
	}
	if (mig_load_applied(db, m, n) != CB_OK)
		goto out;

	if (strcmp(cmd, "status") == 0) {
		for (i = 0; i < n; i++)
			printf("%-40s %s\n", m[i].name, m[i].applied ? "applied" : "pending");
		rc = 0;
	} else if (strcmp(cmd, "up") == 0) {
		for (i = 0; i < n && (to == 0 || m[i].version <= to); i++) {
			if (m[i].applied)
				continue;
			pending++;
			if (mig_step(db, dir, &m[i], 1) != CB_OK)
				goto out;
		}
		if (pending == 0)
			printf("up to date (%zu migrations)\n", n);
		rc = 0;
	} else {
		for (i = n; i > 0; i--)
			if (m[i - 1].applied)
				break;
		if (i == 0) {
			printf("nothing to roll back\n");
			rc = 0;
		} else if (mig_step(db, dir, &m[i - 1], 0) == CB_OK)
			rc = 0;
	}
out:
	if (db) {
		(void)db_exec(db, "SELECT pg_advisory_unlock($1)", 1, lock);
		db_close(db);
	}
	free(m);
	conf_free(mig_vars, 1, &conf);
	return rc;
}
