-- +goose Up
-- The event log: one row per change a storefront cares about, written in
-- the transaction that makes the change (internal/event). seq is the order
-- rows were written in, the list's cursor. partner_id and customer_id are
-- whom the resource belongs to, for scoping; no foreign keys, as the log
-- outlives what it tells of and an insert should cost one index write each.
CREATE TABLE events (
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            uuid PRIMARY KEY,
    type          text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    resource_type text NOT NULL,
    resource_id   uuid NOT NULL,
    partner_id    uuid,
    customer_id   uuid,
    payload       jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    created_at    timestamptz NOT NULL
);
CREATE INDEX events_resource ON events (resource_id, seq);
CREATE INDEX events_partner ON events (partner_id, seq) WHERE partner_id IS NOT NULL;
CREATE INDEX events_customer ON events (customer_id, seq) WHERE customer_id IS NOT NULL;

-- +goose Down
DROP TABLE events;
