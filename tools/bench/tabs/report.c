/*
 * cb-bench-tabs' report: key=value lines on stdout, per phase the
 * latencies' p50/p95/p99/max and the counts of what went wrong.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "tabs.h"
#include "util.h"
#include "ws.h"

static int
dbl_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const double *v, int n, double p)
{
	int	 i;

	if (n == 0)
		return -1;
	i = (int)((p / 100.0) * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* The distribution's percentiles; then the samples v (allocated) are freed. */
static void
print_dist(const char *phase, const char *name, double *v, int n)
{
	static const double	 at[] = { 50, 95, 99, 100 };
	static const char *const tag[] = { "p50", "p95", "p99", "max" };
	double			 x;
	size_t			 i;

	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		x = pct(v, n, at[i]);
		if (isinf(x))
			printf("%s.%s_%s=lost\n", phase, name, tag[i]);
		else
			printf("%s.%s_%s=%.2f\n", phase, name, tag[i], x);
	}
	free(v);
}

void
phase_report(const struct phase *p)
{
	double		*lat202, *latsend, *lag, first = 0, last = 0;
	int		 n202 = 0, nsend = 0, nlag = 0, i;
	long long	 acc = 0, r429 = 0, other = 0, err = 0, early = 0, missing = 0, waits = 0;
	long long	 unsent = 0;

	lat202 = util_calloc((size_t)p->n + 1, sizeof(double));
	latsend = util_calloc((size_t)p->n + 1, sizeof(double));
	lag = util_calloc((size_t)p->n + 1, sizeof(double));
	for (i = 0; i < p->n; i++) {
		const struct cmd *c = &p->cmds[i];

		if (c->t_sent != 0) {
			lag[nlag++] = c->t_sent - c->t_due;
			if (first == 0 || c->t_sent < first)
				first = c->t_sent;
			if (c->t_sent > last)
				last = c->t_sent;
		}
		if (c->status == 202)
			acc++;
		else if (c->status == 429)
			r429++;
		else if (c->status > 0)
			other++;
		else if (c->status == CMD_UNSENT)
			unsent++;
		else
			err++;
		if (c->status != 202)
			continue;
		waits += c->window_wait;
		if (c->t_frame == 0) {
			missing++;
			lat202[n202++] = INFINITY;
			latsend[nsend++] = INFINITY;
			continue;
		}
		if (c->t_frame < c->t_202)
			early++;
		lat202[n202++] = c->t_frame > c->t_202 ? c->t_frame - c->t_202 : 0;
		latsend[nsend++] = c->t_frame - c->t_sent;
	}
	printf("%s.offered=%d\n%s.accepted=%lld\n%s.refused_429=%lld\n%s.other_status=%lld\n"
	    "%s.errors=%lld\n%s.unsent=%lld\n%s.frames=%lld\n%s.missing=%lld\n%s.early=%lld\n"
	    "%s.window_waits=%lld\n",
	    p->name, p->n, p->name, acc, p->name, r429, p->name, other, p->name, err,
	    p->name, unsent, p->name, (long long)n202 - missing, p->name, missing, p->name, early,
	    p->name, waits);
	if (p->open_loop)
		printf("%s.sent_rate=%.0f\n", p->name,
		    last > first ? (double)(nlag - 1) * 1000.0 / (last - first) : 0.0);
	print_dist(p->name, "lat202", lat202, n202);
	print_dist(p->name, "latsend", latsend, nsend);
	print_dist(p->name, "sendlag", lag, nlag);
}

/* The approve phase's own figures (after phase_report's). */
void
approve_report(const struct bench *b, const struct phase *p)
{
	double		*acc, *made, *dec, *clk;
	int		 na = 0, nm = 0, nd = 0, nc = 0, i;
	long long	 msgs = 0, ok = 0;

	acc = util_calloc((size_t)p->n + 1, sizeof(double));
	made = util_calloc((size_t)p->n + 1, sizeof(double));
	dec = util_calloc((size_t)p->n + 1, sizeof(double));
	clk = util_calloc((size_t)p->n + 1, sizeof(double));
	for (i = 0; i < p->n; i++) {
		const struct cmd *c = &p->cmds[i];

		if (c->status != 202)
			continue;
		acc[na++] = c->t_202 - c->t_sent;
		msgs += c->w_msg != 0;
		made[nm++] = c->w_msg != 0 ? c->w_msg - c->w_sent : INFINITY;
		if (c->t_click == 0)
			continue;
		clk[nc++] = c->click_status != 0 ? c->t_clicked - c->t_click : INFINITY;
		if (c->click_status != 200)
			continue;
		ok++;
		dec[nd++] = c->t_frame != 0 ? c->t_frame - c->t_click : INFINITY;
	}
	printf("approve.messages=%lld\napprove.messages_unknown=%lld\napprove.clicks=%d\n"
	    "approve.clicks_ok=%lld\napprove.clicks_failed=%lld\n", msgs, b->msgs_unknown, nc, ok,
	    b->clicks_failed);
	print_dist(p->name, "accept", acc, na);
	print_dist(p->name, "created", made, nm);
	print_dist(p->name, "click200", clk, nc);
	print_dist(p->name, "decide", dec, nd);
}
