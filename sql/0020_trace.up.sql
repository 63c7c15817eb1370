-- 0020_trace: W3C trace context (docs/tracing.md).  An outbox row and a
-- command keep the traceparent of the request that wrote them (version 00,
-- lower-case hex, lib/trace.h), so the worker's delivery logs and its
-- upstream calls, and the command's frame to the tab, carry the same trace
-- id as nginx's and the responder's log lines.  NULL: written with tracing
-- off (CB_TRACE), or by the broker itself (an alert) with no request.
ALTER TABLE outbox
	ADD COLUMN trace text
		CHECK (trace IS NULL OR trace ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
ALTER TABLE commands
	ADD COLUMN trace text
		CHECK (trace IS NULL OR trace ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
