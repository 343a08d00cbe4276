-- +goose Up
-- A delivery is written by the event's transaction without its River job;
-- the dispatcher (internal/webhook) queues the jobs of the rows not yet
-- queued, many at a time, so a request pays for one row and no job.
ALTER TABLE webhook_deliveries ADD COLUMN queued boolean NOT NULL DEFAULT true;
CREATE INDEX webhook_deliveries_unqueued ON webhook_deliveries (created_at) WHERE NOT queued;

-- +goose Down
DROP INDEX webhook_deliveries_unqueued;
ALTER TABLE webhook_deliveries DROP COLUMN queued;
