-- +goose Up
-- A failed service operation can run again: by the periodic sweep when its
-- failure was one a later try may fix (the vendor unreachable, 5xx, 429,
-- a timeout), or on request. error_class is the class of the failure that
-- ended it; superseded_by names a newer operation of the service that sets
-- what it set (it must never run again); swept_period is the last sweep
-- period that queued it (at most once per period).
ALTER TABLE service_operations
    ADD COLUMN error_class   text CHECK (error_class IN ('transient', 'permanent')),
    ADD COLUMN retries       integer NOT NULL DEFAULT 0,
    ADD COLUMN retried_at    timestamptz,
    ADD COLUMN retried_by    text,
    ADD COLUMN swept_period  timestamptz,
    ADD COLUMN superseded_by uuid REFERENCES service_operations (id);
ALTER TABLE service_operations ADD CONSTRAINT service_operations_class_when_failed
    CHECK (error_class IS NULL OR status = 'failed');
-- What the sweep looks at.
CREATE INDEX service_operations_sweep ON service_operations (seq)
    WHERE status = 'failed' AND error_class = 'transient' AND superseded_by IS NULL;
-- GET /v1/service-operations, newest first, by status.
CREATE INDEX service_operations_listed ON service_operations (created_at DESC, id DESC);
CREATE INDEX service_operations_status_listed ON service_operations (status, created_at DESC, id DESC);

-- +goose Down
DROP INDEX service_operations_status_listed;
DROP INDEX service_operations_listed;
DROP INDEX service_operations_sweep;
ALTER TABLE service_operations DROP CONSTRAINT service_operations_class_when_failed;
ALTER TABLE service_operations
    DROP COLUMN superseded_by,
    DROP COLUMN swept_period,
    DROP COLUMN retried_by,
    DROP COLUMN retried_at,
    DROP COLUMN retries,
    DROP COLUMN error_class;
