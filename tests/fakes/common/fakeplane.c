/*
 * fakeplane: see fakeplane.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "util.h"

#include "fakeplane.h"

cJSON *
fp_obj(void)
{
	cJSON	*o = cJSON_CreateObject();

	if (o == NULL)
		util_oom();
	return o;
}

void
fp_add_str(cJSON *o, const char *k, const char *v)
{
	if ((v == NULL ? cJSON_AddNullToObject(o, k) :
	    cJSON_AddStringToObject(o, k, v)) == NULL)
		util_oom();
}

void
fp_add_num(cJSON *o, const char *k, double v)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		util_oom();
}

void
fp_add_copy(cJSON *o, const char *k, const cJSON *v)
{
	cJSON	*dup = v == NULL ? cJSON_CreateNull() : cJSON_Duplicate(v, 1);

	if (dup == NULL || !cJSON_AddItemToObject(o, k, dup))
		util_oom();
}

void
fp_add_bool(cJSON *o, const char *k, int v)
{
	if (cJSON_AddBoolToObject(o, k, v) == NULL)
		util_oom();
}

void
fp_json(struct fh_resp *rs, int status, const char *ctype, cJSON *doc)
{
	char	*s = cJSON_PrintUnformatted(doc);

	if (s == NULL)
		util_oom();
	buf_reset(&rs->body);
	if (buf_puts(&rs->body, s) != CB_OK)
		fh_resp_error(rs, 500, "answer too large");
	else {
		rs->status = status;
		rs->ctype = ctype;
	}
	free(s);
	cJSON_Delete(doc);
}

int
fp_body(const struct fh_req *rq, const struct jv_field *t, size_t nt, void *in, cJSON **doc,
    struct fh_resp *rs)
{
	struct jv_error	 je;
	char		 msg[300];

	memset(&je, 0, sizeof(je));
	if (rq->body_len == 0 ||
	    jv_parse(rq->body, rq->body_len, doc, &je) != CB_OK ||
	    jv_validate(*doc, t, nt, in, &je) != CB_OK) {
		snprintf(msg, sizeof(msg), "%s%s%s", je.field, je.field[0] ?
		    ": " : "", je.reason[0] ? je.reason : "a JSON object is "
		    "required");
		fh_resp_error(rs, 400, msg);
		return -1;
	}
	return 0;
}

int
fp_name_index(const char *const *names, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

void *
fp_at(struct fp_queue *q, size_t i)
{
	return (unsigned char *)q->items + i * q->size;
}

int
fp_take(struct fp_queue *q, fp_hits hits, const void *arg, void *out)
{
	size_t	 i;
	long	*count;

	for (i = 0; i < q->n; i++) {
		if (!hits(fp_at(q, i), arg))
			continue;
		memcpy(out, fp_at(q, i), q->size);
		count = fp_at(q, i);
		if (--*count <= 0) {
			memmove(fp_at(q, i), fp_at(q, i + 1), (q->n - i - 1) * q->size);
			q->n--;
		}
		q->served++;
		return 1;
	}
	return 0;
}

size_t
fp_clear(struct fp_queue *q)
{
	size_t	 n = q->n;

	q->n = 0;
	return n;
}

void
fp_answer_add(struct fh_resp *rs, pthread_mutex_t *lock, struct fp_queue *q, const void *fault)
{
	cJSON	*res;
	size_t	 n;

	pthread_mutex_lock(lock);
	if (q->n >= q->max) {
		pthread_mutex_unlock(lock);
		fh_resp_error(rs, 400, "too many queued faults");
		return;
	}
	memcpy(fp_at(q, q->n++), fault, q->size);
	n = q->n;
	pthread_mutex_unlock(lock);
	res = fp_obj();
	fp_add_num(res, "faults", (double)n);
	fp_json(rs, 201, NULL, res);
}

void
fp_answer_list(struct fh_resp *rs, pthread_mutex_t *lock, struct fp_queue *q,
    void (*one)(cJSON *, const void *fault))
{
	cJSON	*doc = fp_obj(), *arr, *o;
	size_t	 i;

	if ((arr = cJSON_AddArrayToObject(doc, "faults")) == NULL)
		util_oom();
	pthread_mutex_lock(lock);
	for (i = 0; i < q->n; i++) {
		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		one(o, fp_at(q, i));
	}
	pthread_mutex_unlock(lock);
	fp_json(rs, 200, NULL, doc);
}

void
fp_answer_clear(struct fh_resp *rs, pthread_mutex_t *lock, struct fp_queue *q)
{
	cJSON	*doc;
	size_t	 n;

	pthread_mutex_lock(lock);
	n = fp_clear(q);
	pthread_mutex_unlock(lock);
	doc = fp_obj();
	fp_add_num(doc, "cleared", (double)n);
	fp_json(rs, 200, NULL, doc);
}
