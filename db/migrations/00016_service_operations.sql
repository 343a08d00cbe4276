-- +goose Up
-- A change to a service that the vendor must carry out: recorded in the
-- transaction that changes the platform (with its River job), then worked
-- until the vendor agrees. Operations of one service run one at a time, in
-- the order of seq.
CREATE TABLE service_operations (
    id            uuid PRIMARY KEY,
    seq           bigserial NOT NULL UNIQUE,
    service_id    uuid NOT NULL REFERENCES services (id),
    kind          text NOT NULL CHECK (kind IN ('suspend', 'unsuspend', 'terminate', 'reset_password',
                      'update_credentials', 'quantity', 'plan_change', 'expire_trial')),
    status        text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    params        jsonb NOT NULL DEFAULT '{}',
    -- A generated or given password, sealed (AES-GCM) until the vendor has
    -- it and, for a generated one, until its requester has read it once.
    secret_enc    bytea,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    requested_by  text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX service_operations_service ON service_operations (service_id, seq);
CREATE INDEX service_operations_open ON service_operations (service_id, seq) WHERE status IN ('pending', 'running');
-- A trial expires once.
CREATE UNIQUE INDEX service_operations_expire_once ON service_operations (service_id) WHERE kind = 'expire_trial';

ALTER TABLE services DROP CONSTRAINT services_status_check;
ALTER TABLE services ADD CONSTRAINT services_status_check
    CHECK (status IN ('pending', 'active', 'suspended', 'expired', 'terminated', 'cancelled'));
ALTER TABLE services ADD COLUMN expired_at timestamptz;
CREATE INDEX services_trial_ends ON services (trial_ends_at) WHERE free_trial AND status = 'active';

-- +goose Down
DROP INDEX services_trial_ends;
ALTER TABLE services DROP COLUMN expired_at;
ALTER TABLE services DROP CONSTRAINT services_status_check;
ALTER TABLE services ADD CONSTRAINT services_status_check
    CHECK (status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled'));
DROP TABLE service_operations;
