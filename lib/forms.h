/*
 * forms: reading form versions through the Redis cache.
 *
 * A published version never changes, so its definition is cached for an
 * hour under cb:formdef:<form>:<version>.  The current version of a form is
 * cached for a short time under cb:formcur:<form> and deleted on publish.
 * Redis down means the read goes to Postgres; never a wrong answer.
 */
#ifndef CB_FORMS_H
#define CB_FORMS_H

struct app;

/* The definition JSON text of (form, version); caller frees *out. */
int	 forms_definition(struct app *, const char *org, const char *form_id, int version,
	    char **out);
/* The current published version of a form (0 if none). */
int	 forms_current(struct app *, const char *org, const char *form_id, int *version);
/*
 * Both at once (what a form load needs): one Redis round trip when both are
 * cached.  A failure to learn the current version leaves *current 0.
 */
int	 forms_load(struct app *, const char *org, const char *form_id, int version,
	    char **def, int *current);
/* Forget the cached current version (after a publish). */
void	 forms_invalidate(struct app *, const char *form_id);

#endif
