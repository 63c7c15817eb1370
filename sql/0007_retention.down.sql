-- Reverts 0007_retention (indexes only: no data changes).
DROP INDEX outbox_finished;
DROP INDEX outbox_ref_open;
DROP INDEX submissions_ctx;
DROP INDEX contexts_expires;
DROP INDEX refresh_tokens_family_end;
DROP INDEX refresh_tokens_parent;
