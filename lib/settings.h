/*
 * settings: the one table of every setting the broker's processes read.
 * Keeping them in one table keeps the README's configuration section, the
 * `cb-admin config` listing and the code in agreement.
 */
#ifndef CB_SETTINGS_H
#define CB_SETTINGS_H

#include <stddef.h>

#include "conf.h"

struct settings {
	char		*pg_dsn;
	char		*redis_host;
	long long	 redis_port;
	char		*redis_password;
	long long	 redis_timeout_ms;
	char		*log_level;
	long long	 ws_port;
	char		*public_url;
	char		*api_key_pepper;	/* 64 hex chars: keys API-key hashes */
	char		*blind_index_key_file;
	/* 64 hex chars read from that file: keys the blind indexes of personal data. */
	char		 blind_index_key[65];
	char		*blind_index_key_previous_file;
	/* While the key is rotated: the previous key (hex), or "" when none. */
	char		 blind_index_key_previous[65];
	long long	 context_ttl_s;
	/* The write routes. */
	long long	 idem_ttl_s;
	long long	 submit_dedupe_s;
	/* Salesforce (the outbox's main sink). */
	char		*sf_login_url;
	char		*sf_audience;
	char		*sf_client_id;
	char		*sf_username;
	char		*sf_private_key_file;
	char		*sf_api_version;
	long long	 sf_timeout_ms;
	long long	 sf_batch;
	long long	 sf_session_s;
	long long	 sf_refresh_margin_s;
	long long	 sf_probe_s;
	long long	 sf_limit_slow_pct;
	long long	 sf_limit_pause_pct;
	long long	 sf_contact_ttl_s;
	long long	 sf_key_overlap_s;
	long long	 sf_key_warn_days;
	long long	 key_warn_days;
	char		*region;
	char		*region_hosts;
	long long	 sf_contact_miss_ttl_s;
	/* The outbox (the delivery engine) and its other sinks. */
	long long	 outbox_concurrency;
	long long	 outbox_lease_s;
	char		*outbox_schedule;
	char		*egress_private_allow;
	long long	 webhook_timeout_ms;
	long long	 webhook_disable_after_s;
	long long	 webhook_rotation_overlap_s;
	char		*slack_webhook_url;
	char		*slack_bot_token;
	char		*slack_channel;
	char		*slack_api_url;
	long long	 slack_timeout_ms;
	long long	 alert_dead_letters;
	long long	 alert_oauth_failures;
	long long	 receipt_timeout_s;
	/* The tab channel: caps on WebSockets, the wake-up sweep. */
	long long	 ws_max_per_ctx;
	long long	 ws_max_per_addr;
	long long	 ws_max_feeds_per_org;
	long long	 channel_sweep_ms;
	long long	 channel_expire_batch;
	long long	 channel_lock_timeout_ms;
	/* Identity and sealing. */
	char		*seal_root_key_file;
	char		*cors_origins;
	long long	 access_ttl_s;
	long long	 refresh_ttl_s;
	long long	 refresh_idle_s;
	long long	 refresh_overlap_s;
	/* Failing fast on a hung dependency (responders' sessions, Redis). */
	long long	 pg_statement_timeout_ms;
	long long	 pg_lock_timeout_ms;
	long long	 kv_breaker_failures;
	long long	 kv_breaker_cooloff_ms;
	/* The audit trail's sealing (the worker's audit duty). */
	long long	 audit_seal_ms;
	long long	 audit_seal_batch;
	long long	 approval_sweep_ms;
	long long	 approval_expire_batch;
	char		*slack_signing_secret;
	char		*slack_response_url_prefix;
	/* Retention of operational data (the worker's retention duty). */
	long long	 retain_interval_s;
	long long	 retain_batch;
	long long	 retain_pause_ms;
	long long	 retain_timeout_ms;
	long long	 retain_class_batch;
	long long	 retain_clock_s;
	long long	 retain_contexts_s;
	long long	 retain_commands_s;
	long long	 retain_outbox_s;
	long long	 retain_refresh_s;
	/* Transport and quotas (lib/route.c, lib/quota.c). */
	int		 plain_http_credentials;
	long long	 quota_free_submits_per_min;
	long long	 quota_free_commands_per_min;
	long long	 quota_team_submits_per_min;
	long long	 quota_team_commands_per_min;
	long long	 quota_enterprise_submits_per_min;
	long long	 quota_enterprise_commands_per_min;
	long long	 quota_key_commands_per_min;
	long long	 quota_free_call_events_per_min;
	long long	 quota_team_call_events_per_min;
	long long	 quota_enterprise_call_events_per_min;
	/* Inbound call events (cgi/calls.c, lib/calls.c). */
	long long	 call_secret_overlap_s;
	/* Governance of agent policy changes (lib/policygov.c). */
	long long	 policy_max_changes;
	long long	 policy_max_list;
	/* Metrics (lib/metrics.h, cgi/metrics.c). */
	char		*metrics_dir;
	int		 trace;		/* CB_TRACE */
	char		*metrics_token;
};

extern const struct conf_var	settings_vars[];
extern const size_t		settings_nvars;

int	 settings_load(struct settings *, char *err, size_t errsz);
void	 settings_free(struct settings *);

#endif
