-- +goose Up
-- Outbound webhooks (internal/webhook). An endpoint belongs to the SP
-- (partner_id NULL) or to one partner; its signing secret is sealed with the
-- platform key, and after a rotation the previous one keeps signing until
-- previous_secret_expires_at. failing_since is when its deliveries started
-- failing (NULL while they succeed); three days of it disable the endpoint.
CREATE TABLE webhook_endpoints (
    id                         uuid PRIMARY KEY,
    partner_id                 uuid REFERENCES partners (id),
    url                        text NOT NULL,
    -- Empty: every event type.
    event_types                text[] NOT NULL DEFAULT '{}',
    enabled                    boolean NOT NULL DEFAULT true,
    description                text NOT NULL DEFAULT '',
    secret                     bytea NOT NULL,
    previous_secret            bytea,
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,
    disabled_reason            text CHECK (disabled_reason IN ('failing')),
    version                    bigint NOT NULL DEFAULT 1,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);
-- The fan-out reads the enabled endpoints of the SP and of one partner.
CREATE INDEX webhook_endpoints_fanout ON webhook_endpoints (partner_id) WHERE enabled;
CREATE INDEX webhook_endpoints_list ON webhook_endpoints (created_at, id);

-- One row per (endpoint, event): the body sent, byte for byte on every try
-- (its signature changes with the timestamp), and how the last try went.
CREATE TABLE webhook_deliveries (
    id                 uuid PRIMARY KEY,
    endpoint_id        uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id           uuid NOT NULL,
    event_type         text NOT NULL,
    body               text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           integer NOT NULL DEFAULT 0,
    last_response_code integer,
    last_latency_ms    integer,
    last_error         text,
    next_attempt_at    timestamptz,
    last_attempt_at    timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (endpoint_id, created_at, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
