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

struct app;
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

#endif
