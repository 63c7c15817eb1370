/*
 * cb-bench-tabs: agent-to-tab latency under load, for `make bench`.
 *
 *   cb-bench-tabs --form FORM_ID --key API_KEY [--tabs 100] [--rate 2000]
 *                 [--seconds 10] [--senders 64] [--idle 200] [--idle-gap-ms 5]
 *                 [--drain-ms 10000] [--window 2]
 *
 * Everything goes through nginx at CB_HTTP_URL (plain http://host:port),
 * as a browser and an agent would.  It opens --tabs contexts
 * (POST /api/v1/contexts) and one WebSocket per tab on /ws/ctx/{ctx_ref}
 * (tests/support/ws.c), authenticates each (auth frame, waits for ready),
 * then runs two phases (--window: the policy's max_in_flight, the channel's
 * window per tab, used only to tell when a command queued behind it):
 *
 *   idle   --idle commands one at a time, each sent --idle-gap-ms after the
 *          previous one's 202 and frame have both arrived, round robin over
 *          the tabs: the latency of a channel with nothing queued (first,
 *          so that nothing of the load phase is still being worked off).
 *   load   commands offered open-loop at --rate per second for --seconds,
 *          round robin over the tabs: command i is due at t0 + i/rate
 *          whatever happened to the earlier ones, and goes out on the first
 *          idle one of --senders keep-alive HTTP connections
 *          (POST /api/v1/contexts/{ctx}/commands, Bearer API key).  When
 *          every sender is busy it waits: its send lag (send - due) is
 *          reported, so an offered rate the client could not hold shows.
 *
 * Each tab answers every command frame at once with an "applied" receipt,
 * as the browser does, so the channel's window keeps moving.  For each
 * command it records the send, the 202 (its seq) and the frame of that seq
 * on its tab; the latency reported as the target is 202 -> frame (a frame
 * that beats its 202 counts as 0 and is counted as "early"); send -> frame
 * is reported beside it.  A command still without a frame --drain-ms after
 * the last 202 is "missing", and counts in the percentiles as later than
 * any frame that came (printed "lost" when a percentile falls on one).
 * When the stack cannot take the offered rate, the load phase stops
 * offering 30 s after its last due time: the rest are "unsent".
 *
 * --approve 1 runs, instead of both, a third phase on a form whose policy
 * holds set_field for a person's approval (docs/approvals.md):
 *
 *   approve  commands offered open-loop at --rate for --seconds as in load,
 *          each answered 202 pending_approval; a poller reads the fake
 *          Slack's messages (GET CB_FAKEHOOKS_URL/__fake/messages?since=,
 *          every --poll-ms) and, for each approval message, clicks Approve
 *          as Slack does: the button's value, signed with
 *          CB_SLACK_SIGNING_SECRET as Slack member --slack-user
 *          (tests/support/slackclick), POST /api/v1/slack/interactions on a
 *          free sender.  Reported: the accept (send -> 202: the approval row
 *          exists, it commits with the command), the creation (send -> the
 *          message's arrival at the fake, its received_at, both wall clock)
 *          and the decision (the click's send -> the command's frame on the
 *          tab), each p50/p95/p99/max.
 *
 * Output: key=value lines on stdout (what scripts/bench.sh parses), the
 * progress and any failure on stderr.  Exit 0 when the phases ran (whatever
 * the figures), 1 when the setup failed, 2 on bad usage.
 *
 * This file reads the options and runs the phases; the parts are in
 * tools/bench/tabs/ (tabs.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "tabs/tabs.h"
#include "util.h"
#include "ws.h"

static int
arg_int(const char *name, const char *v, int lo, int hi)
{
	long long	 x;

	if (v == NULL || util_parse_ll(v, lo, hi, &x) != 0) {
		fprintf(stderr, "cb-bench-tabs: %s must be %d..%d\n", name, lo, hi);
		exit(2);
	}
	return (int)x;
}

/* The numeric host and the port of the http:// URL in environment variable var. */
static void
parse_url(const char *var, char host[64], int *port)
{
	const char	*u = getenv(var), *h, *c;
	size_t		 hl;

	if (u == NULL || strncmp(u, "http://", 7) != 0)
		die("%s must be set to http://host:port", var);
	h = u + 7;
	if ((c = strchr(h, ':')) == NULL || (hl = (size_t)(c - h)) >= 64)
		die("%s must name a numeric host and a port", var);
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = arg_int(var, c + 1, 1, 65535);
}

int
main(int argc, char **argv)
{
	struct bench	 b;
	struct phase	 load, idle, appr;
	/* The whole-number options: name, range, where it goes. */
	const struct { const char *name; int lo, hi; int *to; } nums[] = {
		{ "--tabs", 1, TABS_MAX, &b.ntabs },
		{ "--rate", 1, 100000, &b.rate },
		{ "--seconds", 1, 3600, &b.seconds },
		{ "--senders", 1, SENDERS_MAX, &b.nsenders },
		{ "--idle", 0, 100000, &b.nidle },
		{ "--idle-gap-ms", 0, 10000, &b.idle_gap_ms },
		{ "--drain-ms", 100, 600000, &b.drain_ms },
		{ "--window", 1, 1000, &b.window },
		{ "--approve", 0, 1, &b.approve },
		{ "--poll-ms", 1, 1000, &b.poll_ms },
	};
	size_t		 j;
	int		 i;

	memset(&b, 0, sizeof(b));
	b.ntabs = 100;
	b.rate = 2000;
	b.seconds = 10;
	b.nsenders = 64;
	b.nidle = 200;
	b.idle_gap_ms = 5;
	b.drain_ms = 10000;
	b.window = 2;
	b.poll_ms = 2;
	b.slack_user = "U0BENCH01";
	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			break;
		for (j = 0; j < sizeof(nums) / sizeof(nums[0]) && strcmp(a, nums[j].name) != 0; j++)
			;
		if (j < sizeof(nums) / sizeof(nums[0]))
			*nums[j].to = arg_int(a, v, nums[j].lo, nums[j].hi);
		else if (strcmp(a, "--form") == 0)
			b.form = v;
		else if (strcmp(a, "--key") == 0)
			b.key = v;
		else if (strcmp(a, "--slack-user") == 0)
			b.slack_user = v;
		else
			break;
	}
	if (i != argc || b.form == NULL || b.key == NULL || !util_uuid_ok(b.form)) {
		fprintf(stderr, "usage: cb-bench-tabs --form FORM_ID --key API_KEY [--tabs N] "
		    "[--rate PER_S] [--seconds N] [--senders N] [--idle N] [--idle-gap-ms N] "
		    "[--drain-ms N] [--window N] [--approve 1 [--poll-ms N] [--slack-user ID]]   "
		    "(CB_HTTP_URL names nginx; --approve: CB_FAKEHOOKS_URL, CB_SLACK_SIGNING_SECRET)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	parse_url("CB_HTTP_URL", b.host, &b.port);
	b.tabs = util_calloc((size_t)b.ntabs, sizeof(*b.tabs));
	b.snd = util_calloc((size_t)b.nsenders, sizeof(*b.snd));
	for (i = 0; i < b.nsenders; i++) {
		b.snd[i].fd = -1;
		b.snd[i].in_cap = HTTP_IN_MAX;
		b.snd[i].in = util_malloc(HTTP_IN_MAX + 1);
	}
	b.poll.fd = -1;
	if (b.approve) {
		parse_url("CB_FAKEHOOKS_URL", b.fhost, &b.fport);
		b.fake_url = getenv("CB_FAKEHOOKS_URL");
		if ((b.secret = getenv("CB_SLACK_SIGNING_SECRET")) == NULL)
			die("--approve needs CB_SLACK_SIGNING_SECRET");
		b.poll.host = b.fhost;
		b.poll.port = b.fport;
		b.poll.in_cap = POLL_IN_MAX;
		b.poll.in = util_malloc(POLL_IN_MAX + 1);
	}

	fprintf(stderr, "cb-bench-tabs: opening %d tabs\n", b.ntabs);
	tabs_open(&b);
	for (i = 0; i < b.nsenders; i++)
		if (b.snd[i].fd < 0 && snd_connect(&b, &b.snd[i]) != 0)
			die("cannot connect to %s:%d", b.host, b.port);

	if (b.approve) {
		appr.name = "approve";
		appr.n = b.rate * b.seconds;
		appr.open_loop = 1;
		appr.cmds = util_calloc((size_t)appr.n, sizeof(*appr.cmds));
		b.clickq = util_calloc((size_t)appr.n, sizeof(*b.clickq));
		for (i = 0; i < appr.n; i++)
			appr.cmds[i].tab = i % b.ntabs;
		fprintf(stderr, "cb-bench-tabs: approve: %d commands at %d/s over %d tabs, each "
		    "approved by a signed click\n", appr.n, b.rate, b.ntabs);
		phase_run(&b, &appr);
		printf("tabs=%d\nrate=%d\nseconds=%d\nsenders=%d\n", b.ntabs, b.rate, b.seconds,
		    b.nsenders);
		phase_report(&appr);
		approve_report(&b, &appr);
		printf("channel_errors=%lld\nhttp_errors=%lld\nreconnects=%lld\n",
		    b.channel_errors, b.http_errors, b.reconnects);
		free(appr.cmds);
		free(b.clickq);
		idle.n = load.n = 0;
		idle.cmds = load.cmds = NULL;
		goto out;
	}
	/* The idle channel first, while nothing else has run on it. */
	idle.name = "idle";
	idle.n = b.nidle;
	idle.open_loop = 0;
	idle.cmds = util_calloc((size_t)idle.n + 1, sizeof(*idle.cmds));
	for (i = 0; i < idle.n; i++)
		idle.cmds[i].tab = i % b.ntabs;
	fprintf(stderr, "cb-bench-tabs: idle: %d commands one at a time\n", idle.n);
	if (idle.n > 0)
		phase_run(&b, &idle);

	load.name = "load";
	load.n = b.rate * b.seconds;
	load.open_loop = 1;
	load.cmds = util_calloc((size_t)load.n, sizeof(*load.cmds));
	for (i = 0; i < load.n; i++)
		load.cmds[i].tab = i % b.ntabs;
	fprintf(stderr, "cb-bench-tabs: load: %d commands at %d/s over %d tabs, %d senders\n",
	    load.n, b.rate, b.ntabs, b.nsenders);
	phase_run(&b, &load);

	printf("tabs=%d\nrate=%d\nseconds=%d\nsenders=%d\nwindow=%d\n", b.ntabs, b.rate, b.seconds,
	    b.nsenders, b.window);
	phase_report(&load);
	if (idle.n > 0)
		phase_report(&idle);
	printf("channel_errors=%lld\nhttp_errors=%lld\nreconnects=%lld\nframes_unknown=%lld\n",
	    b.channel_errors, b.http_errors, b.reconnects, b.frames_unknown);
out:
	for (i = 0; i < b.ntabs; i++) {
		ws_close(&b.tabs[i].w, 1000);
		ws_free(&b.tabs[i].w);
		free(b.tabs[i].cmd_at);
		free(b.tabs[i].frame_at);
	}
	for (i = 0; i < b.nsenders; i++) {
		snd_close(&b.snd[i]);
		free(b.snd[i].in);
	}
	snd_close(&b.poll);
	free(b.poll.in);
	free(load.cmds);
	free(idle.cmds);
	free(b.tabs);
	free(b.snd);
	return 0;
}
