/*
 * fakeplane: what the fakes' control planes (/__fake/...) have in common,
 * on top of fakehttpd: JSON answers built with cJSON, a request body
 * checked against a field table, and the fault queue.
 *
 * A fault queue holds up to `max` faults of one fake's own struct, whose
 * first member must be `long count` (uses left).  Faults are taken first
 * queued first; one use is taken per hit and a fault leaves the queue when
 * its count runs out.  The queue does no locking: callers hold their
 * fake's lock, and the fp_answer_* helpers take it themselves.
 */
#ifndef CB_FAKEPLANE_H
#define CB_FAKEPLANE_H

#include <pthread.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "jsonv.h"

#include "fakehttpd.h"

/* ---- JSON answers (out of memory aborts) ---- */

cJSON	*fp_obj(void);
/* v NULL: a JSON null. */
void	 fp_add_str(cJSON *, const char *k, const char *v);
void	 fp_add_num(cJSON *, const char *k, double v);
void	 fp_add_bool(cJSON *, const char *k, int v);
/* A copy of v (NULL: a JSON null). */
void	 fp_add_copy(cJSON *, const char *k, const cJSON *v);
/* Print doc into the answer with status and ctype (NULL: JSON) and free it. */
void	 fp_json(struct fh_resp *, int status, const char *ctype, cJSON *doc);
/* The body's JSON object checked against a table; 0, or answered 400 (-1). */
int	 fp_body(const struct fh_req *, const struct jv_field *, size_t, void *in, cJSON **doc,
	    struct fh_resp *);
/* The index of s in names[0..n), or -1. */
int	 fp_name_index(const char *const *names, size_t n, const char *s);

/* ---- the fault queue ---- */

struct fp_queue {
	void	*items;		/* max faults of size bytes each */
	size_t	 size;
	size_t	 max;
	size_t	 n;
	long	 served;	/* uses taken since the last reset */
};

/* Does this fault hit the call described by arg? */
typedef int	(*fp_hits)(const void *fault, const void *arg);

#define FP_QUEUE(arr)	{ .items = (arr), .size = sizeof((arr)[0]), \
			  .max = sizeof(arr) / sizeof((arr)[0]) }

/* The i-th queued fault. */
void	*fp_at(struct fp_queue *, size_t i);
/*
 * The first fault that hits: copied into out, one use taken, served
 * counted.  1 if one did, else 0.
 */
int	 fp_take(struct fp_queue *, fp_hits, const void *arg, void *out);
/* Empty the queue; how many faults were queued. */
size_t	 fp_clear(struct fp_queue *);
/* POST /__fake/faults, fault parsed: queued and 201 {"faults":n}, or 400 when full. */
void	 fp_answer_add(struct fh_resp *, pthread_mutex_t *, struct fp_queue *, const void *fault);
/* GET /__fake/faults: 200 {"faults":[...]}, each fault's members written by one(). */
void	 fp_answer_list(struct fh_resp *, pthread_mutex_t *, struct fp_queue *,
	    void (*one)(cJSON *, const void *fault));
/* DELETE /__fake/faults: emptied, 200 {"cleared":n}. */
void	 fp_answer_clear(struct fh_resp *, pthread_mutex_t *, struct fp_queue *);

#endif
