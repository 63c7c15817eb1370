-- 0003_outbox_wakeup: the outbox's wake-up moves from NOTIFY to Redis
-- pub/sub (published by the writer after its commit).  NOTIFY serialises
-- the commits of every notifying transaction on one queue lock: it halved
-- the commit rate of submits.  Postgres stays the truth: a lost wake-up
-- only delays a delivery until the worker's fallback sweep (1 s).
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS cb_notify_outbox();
