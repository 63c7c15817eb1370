/*
 * forms: reading form versions through two caches.
 *
 * A published version never changes, so its definition is cached for
 * ten minutes in this process and an hour in Redis (cb:formdef:<form>:<v>).
 * The current version of a form is cached for two seconds in this process
 * and thirty in Redis (cb:formcur:<form>, deleted on publish): it is only
 * advisory here, the submit checks the truth in Postgres.  Redis down means
 * the read goes to Postgres; never a wrong answer.
 */
#ifndef CB_FORMS_H
#define CB_FORMS_H

#include <stddef.h>

struct app;
struct db;
struct kv;

/* The definition JSON text of (form, version); caller frees *out. */
int	 forms_definition(struct app *, const char *org, const char *form_id, int version,
	    char **out);
/* The current published version of a form (0 if none). */
int	 forms_current(struct app *, const char *org, const char *form_id, int *version);
/*
 * Both (what a form load needs).  A failure to learn the current version
 * leaves *current 0.
 */
int	 forms_load(struct app *, const char *org, const char *form_id, int version,
	    char **def, int *current);
/* Forget the cached current version (after a publish). */
void	 forms_invalidate(struct kv *, const char *form_id);

/*
 * Writing forms (cb-admin; the demo seed), each change with its audit row
 * in the same statement (lib/audit.h's audit_actor names `actor`):
 * forms_create makes form `name` of organisation `org` (its id) for
 * Salesforce object `sf_object` keyed by `sf_ext_field` (NULL: the
 * defaults), audited form.created {name, sf_object}, its id in `id`;
 * CB_ERR_NOT_FOUND: no such organisation.  forms_publish stores `def` (a
 * definition the caller checked with formdef_check_text) as the form's next
 * version and makes it current, audited form.published {version,
 * definition_sha256 of the definition as stored}: all or nothing, the new
 * version in `ver`; CB_ERR_NOT_FOUND: no such form.  The caches learn of a
 * publish through forms_invalidate.
 */
int	 forms_create(struct db *, const char *org, const char *name, const char *sf_object,
	    const char *sf_ext_field, const char *actor, char *id, size_t idsz);
int	 forms_publish(struct db *, const char *form_id, const char *def, const char *actor,
	    char *ver, size_t versz);
/* The oldest form `name` of organisation `org`: its id, or CB_ERR_NOT_FOUND. */
int	 forms_find(struct db *, const char *org, const char *name, char *id, size_t idsz);

#endif
