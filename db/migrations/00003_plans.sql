-- +goose Up
CREATE TABLE plans (
    id               uuid PRIMARY KEY,
    venture_id       uuid NOT NULL REFERENCES ventures (id) ON DELETE RESTRICT,
    product_type_id  uuid NOT NULL REFERENCES product_types (id) ON DELETE RESTRICT,
    product_id       uuid NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    product_group_id uuid NOT NULL REFERENCES product_groups (id) ON DELETE RESTRICT,
    name             text NOT NULL,
    partner_visible  boolean NOT NULL DEFAULT false,
    status           text NOT NULL CHECK (status IN ('draft', 'active', 'retired')),
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX plans_page ON plans (created_at, id);
CREATE INDEX plans_group ON plans (product_group_id);

-- Pricing is all in the SP base currency, so amounts carry no currency.
CREATE TABLE plan_pricing (
    plan_id              uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    billing_model        text NOT NULL CHECK (billing_model IN ('prepaid', 'postpaid_fixed', 'postpaid_payg')),
    overage_price_per_gb numeric(14, 2) CHECK (overage_price_per_gb >= 0),
    enable_quantity      boolean NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE plan_cycles (
    plan_id   uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    frequency text NOT NULL CHECK (frequency IN ('monthly', 'quarterly', 'semiannually', 'annually', 'biennially', 'triennially')),
    price     numeric(14, 2) NOT NULL CHECK (price >= 0),
    setup_fee numeric(14, 2) NOT NULL CHECK (setup_fee >= 0),
    PRIMARY KEY (plan_id, frequency)
);

CREATE TABLE plan_metered_charges (
    plan_id       uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    offering_item text NOT NULL,
    unit_price    numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    aggregation   text NOT NULL CHECK (aggregation IN ('max', 'last', 'avg')),
    PRIMARY KEY (plan_id, offering_item)
);

-- +goose Down
DROP TABLE plan_metered_charges;
DROP TABLE plan_cycles;
DROP TABLE plan_pricing;
DROP TABLE plans;
