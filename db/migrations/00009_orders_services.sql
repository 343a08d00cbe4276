-- +goose Up
-- Automatic approval: trial and post-paid orders are approved at once;
-- prepaid ones once their first invoice is paid.
ALTER TABLE plans ADD COLUMN auto_approve boolean NOT NULL DEFAULT false;

-- A service exists from the order on (pending) and holds the vendor login,
-- so a login is taken by one live service at a time.
CREATE TABLE services (
    id               uuid PRIMARY KEY,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    partner_id       uuid REFERENCES partners (id),
    plan_id          uuid NOT NULL REFERENCES plans (id),
    frequency        text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity >= 1),
    username         text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled')),
    free_trial       boolean NOT NULL DEFAULT false,
    trial_ends_at    timestamptz,
    vendor_tenant_id text,
    vendor_user_id   text,
    portal_url       text NOT NULL DEFAULT '',
    password_enc     bytea,
    unit_price       numeric(14,2) NOT NULL,
    setup_fee        numeric(14,2) NOT NULL,
    unit_cost        numeric(14,2),
    setup_fee_cost   numeric(14,2),
    next_due_date    date,
    activated_at     timestamptz,
    suspended_at     timestamptz,
    terminated_at    timestamptz,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX services_username_key ON services (lower(username)) WHERE status NOT IN ('terminated', 'cancelled');
CREATE INDEX services_page ON services (created_at, id);
CREATE INDEX services_customer ON services (customer_id);
CREATE INDEX services_partner ON services (partner_id) WHERE partner_id IS NOT NULL;
CREATE INDEX services_plan ON services (plan_id);

CREATE TABLE orders (
    id                   uuid PRIMARY KEY,
    service_id           uuid NOT NULL UNIQUE REFERENCES services (id),
    customer_id          uuid NOT NULL REFERENCES customers (id),
    partner_id           uuid REFERENCES partners (id),
    plan_id              uuid NOT NULL REFERENCES plans (id),
    frequency            text NOT NULL,
    quantity             integer NOT NULL CHECK (quantity >= 1),
    username             text NOT NULL,
    order_url_token      text,
    unit_price           numeric(14,2) NOT NULL,
    setup_fee            numeric(14,2) NOT NULL,
    status               text NOT NULL CHECK (status IN ('pending', 'approved', 'provisioning', 'completed', 'failed', 'cancelled')),
    failure_reason       text,
    placed_by            text NOT NULL,
    status_token_hash    bytea,
    password_revealed_at timestamptz,
    version              bigint NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX orders_page ON orders (created_at, id);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_partner ON orders (partner_id) WHERE partner_id IS NOT NULL;
CREATE INDEX orders_status ON orders (status);

-- Every transition, with who and when.
CREATE TABLE order_events (
    id          bigserial PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id),
    from_status text,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    reason      text,
    at          timestamptz NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Provisioning steps done, so a resumed job and a reader see how far it got.
CREATE TABLE order_steps (
    order_id uuid NOT NULL REFERENCES orders (id),
    step     text NOT NULL,
    detail   text NOT NULL DEFAULT '',
    done_at  timestamptz NOT NULL,
    PRIMARY KEY (order_id, step)
);

-- +goose Down
DROP TABLE order_steps;
DROP TABLE order_events;
DROP TABLE orders;
DROP TABLE services;
ALTER TABLE plans DROP COLUMN auto_approve;
