/*
 * fakectl: the bundled fake Salesforce's faults and records, for suites
 * that assert what was (or was not) delivered.  Faults are global to the
 * fake: set them, make the rows you need, clear them.
 */
#ifndef CB_TEST_FAKECTL_H
#define CB_TEST_FAKECTL_H

/* POST /__fake/faults with a fault as JSON; fails the test unless 2xx. */
void	 fakectl_fault(const char *json);
/* DELETE /__fake/faults: every fault gone. */
void	 fakectl_clear(void);
/*
 * How many records the fake holds for this external id (a submission id),
 * and the upserts of the last one into *upserts (may be NULL).
 */
int	 fakectl_records(const char *ext, long *upserts);

#endif
