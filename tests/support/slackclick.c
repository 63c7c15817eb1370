/*
 * slackclick: see slackclick.h.
 */
#include <stdio.h>
#include <string.h>

#include "errs.h"
#include "slackclick.h"
#include "slacksig.h"

/* form-urlencode s into out (RFC 3986 unreserved kept, the rest %XX): 0 or -1. */
static int
form_encode(const char *s, char *out, size_t outsz)
{
	size_t	 o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 4 >= outsz)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "%%%02X", c);
	}
	out[o] = '\0';
	return 0;
}

int
slackclick_body(const char *slack_user, const char *action, const char *value,
    const char *response_base, const char *action_ts, char *out, size_t outsz)
{
	char		 json[2048];
	const char	*colon = strchr(value, ':');
	int		 n;

	if (outsz < sizeof("payload=") || colon == NULL)
		return -1;
	n = snprintf(json, sizeof(json), "{\"type\":\"block_actions\",\"team\":{\"id\":\"T000\"},"
	    "\"user\":{\"id\":\"%s\",\"username\":\"approver\",\"team_id\":\"T000\"},"
	    "\"api_app_id\":\"A0FAKEAPP01\",\"trigger_id\":\"1.2.3\","
	    "\"response_url\":\"%s/actions/T000/1/%.*s\","
	    "\"actions\":[{\"action_id\":\"%s\",\"block_id\":\"decide\",\"value\":\"%s\","
	    "\"type\":\"button\",\"action_ts\":\"%s\"}]}",
	    slack_user, response_base, (int)(colon - value), value, action, value,
	    action_ts ? action_ts : "1.2");
	if (n < 0 || (size_t)n >= sizeof(json))
		return -1;
	memcpy(out, "payload=", sizeof("payload="));
	return form_encode(json, out + strlen(out), outsz - strlen(out));
}

int
slackclick_headers(const char *secret, long long ts, const char *body, size_t len,
    char ts_hdr[SLACKCLICK_HDR_MAX], char sig_hdr[SLACKCLICK_HDR_MAX])
{
	struct slacksig_secret	 sec;
	char			 sig[SLACKSIG_SIG_BUFSZ];

	sec.s = secret;
	sec.len = strlen(secret);
	if (slacksig_sign(&sec, ts, body, len, sig) != CB_OK)
		return -1;
	snprintf(ts_hdr, SLACKCLICK_HDR_MAX, "X-Slack-Request-Timestamp: %lld", ts);
	snprintf(sig_hdr, SLACKCLICK_HDR_MAX, "X-Slack-Signature: %s", sig);
	return 0;
}

const char *
slackclick_button_value(const cJSON *j)
{
	const cJSON	*e;
	const char	*v;

	if (cJSON_IsString(j) && j->string != NULL && strcmp(j->string, "value") == 0)
		return j->valuestring;
	cJSON_ArrayForEach(e, j)
		if ((v = slackclick_button_value(e)) != NULL)
			return v;
	return NULL;
}
