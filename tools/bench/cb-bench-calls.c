/*
 * cb-bench-calls: the signed call events of the benchmark's calls section
 * (scripts/bench/calls.sh).
 *
 *   cb-bench-calls PREFIX COUNT < SECRET
 *
 * Prints COUNT lines "webhook-id TAB webhook-timestamp TAB webhook-signature
 * TAB body", each a distinct call_started event (correlation id
 * PREFIX-<n>) signed to Standard Webhooks 1.0 with the call source's
 * whsec_ secret read from stdin (never on the command line), all stamped
 * now: wrk (scripts/bench/calls.lua) sends them within the 5-minute
 * tolerance.  Signing ahead keeps HMAC out of wrk's Lua and the load
 * generator's cost out of the figure.  Not for production.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "errs.h"
#include "stdwh.h"
#include "util.h"

int
main(int argc, char **argv)
{
	struct stdwh_key	 key;
	char			 secret[STDWH_SECRET_BUFSZ], id[64], body[512], started[32];
	char			 sig[STDWH_SIG_BUFSZ];
	long long		 n, i;
	time_t			 now = time(NULL);
	struct tm		 tm;
	size_t			 len;
	int			 blen;

	if (argc != 3 || strlen(argv[1]) > 64 ||
	    util_parse_ll(argv[2], 1, 10000000, &n) != CB_OK) {
		fprintf(stderr, "usage: cb-bench-calls PREFIX COUNT < SECRET\n");
		return 2;
	}
	if (fgets(secret, sizeof(secret), stdin) == NULL)
		return 2;
	len = strcspn(secret, "\r\n");
	secret[len] = '\0';
	if (stdwh_key_parse(secret, &key) != CB_OK) {
		fprintf(stderr, "cb-bench-calls: not a whsec_ secret\n");
		return 2;
	}
	gmtime_r(&now, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "msg_%s_%lld", argv[1], i);
		blen = snprintf(body, sizeof(body), "{\"correlation_id\":\"%s-%lld\","
		    "\"event_type\":\"call_started\",\"from\":\"+1415555%04lld\","
		    "\"to\":\"+14155550100\",\"started_at\":\"%s\"}", argv[1], i, i % 10000,
		    started);
		if (stdwh_sign(&key, id, (int64_t)now, body, (size_t)blen, sig) != CB_OK)
			return 1;
		printf("%s\t%lld\t%s\t%s\n", id, (long long)now, sig, body);
	}
	stdwh_key_wipe(&key);
	return fflush(stdout) == 0 ? 0 : 1;
}
