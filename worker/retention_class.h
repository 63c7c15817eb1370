/*
 * retention_class: the retention duty's purge by data class
 * (retention_class.c): the fields of a class past its tenant's period
 * taken out of submissions, command values cleared, call events deleted.
 */
#ifndef CB_RETENTION_CLASS_H
#define CB_RETENTION_CLASS_H

struct db;
struct keyring;
struct settings;

enum { RC_SUBMISSIONS, RC_COMMANDS, RC_CALL_EVENTS, RC_NTARGETS };

/*
 * One pass over the three targets, batch after batch; counts added into
 * n[].  CB_OK, or the error that stopped it with *failed naming the target
 * (the targets after it wait for the next round).
 */
int	 retention_class_purge(struct db *, struct keyring *, const struct settings *,
	    long long n[RC_NTARGETS], const char **failed);

#endif
