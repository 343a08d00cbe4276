-- +goose Up
-- Tier-2 resellers. Each has a vendor tenant (kind partner, under the SP's)
-- made by a background job; status tells how far that got.
CREATE TABLE partners (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    email            text NOT NULL,
    vendor_login     text NOT NULL,
    status           text NOT NULL CHECK (status IN ('provisioning', 'active', 'failed')),
    vendor_tenant_id text,
    vendor_user_id   text,
    vendor_error     text,
    admin_user_id    uuid,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT partners_active_has_tenant CHECK (status <> 'active' OR vendor_tenant_id IS NOT NULL)
);
CREATE UNIQUE INDEX partners_name_key ON partners (lower(name));
CREATE UNIQUE INDEX partners_vendor_login_key ON partners (lower(vendor_login));
CREATE INDEX partners_page ON partners (created_at, id);

-- What a partner pays and charges per plan. A missing row means no
-- discount, no markup and the SP's overage price.
CREATE TABLE partner_plan_pricing (
    partner_id           uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    plan_id              uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    discount_percent     numeric(7,4) NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
    markup_percent       numeric(9,4) NOT NULL DEFAULT 0 CHECK (markup_percent >= 0),
    overage_price_per_gb numeric(14,2) CHECK (overage_price_per_gb >= 0),
    version              bigint NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (partner_id, plan_id)
);
CREATE INDEX partner_plan_pricing_plan ON partner_plan_pricing (plan_id);

-- End customers, of the SP directly (partner_id null) or of one partner.
CREATE TABLE customers (
    id           uuid PRIMARY KEY,
    partner_id   uuid REFERENCES partners (id),
    name         text NOT NULL,
    email        text NOT NULL,
    phone        text NOT NULL DEFAULT '',
    address      text NOT NULL DEFAULT '',
    country      text NOT NULL DEFAULT '',
    currency     text NOT NULL,
    credit_limit numeric(14,2) CHECK (credit_limit >= 0),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX customers_email_key
    ON customers (coalesce(partner_id, '00000000-0000-0000-0000-000000000000'), lower(email));
CREATE INDEX customers_page ON customers (created_at, id);
CREATE INDEX customers_partner ON customers (partner_id, created_at, id) WHERE partner_id IS NOT NULL;

ALTER TABLE users ADD CONSTRAINT users_partner_fk FOREIGN KEY (partner_id) REFERENCES partners (id);
ALTER TABLE users ADD CONSTRAINT users_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_partner_fk FOREIGN KEY (partner_id) REFERENCES partners (id);
ALTER TABLE plan_order_urls ADD CONSTRAINT plan_order_urls_partner_fk
    FOREIGN KEY (partner_id) REFERENCES partners (id) ON DELETE CASCADE;
CREATE INDEX plan_order_urls_partner ON plan_order_urls (partner_id) WHERE partner_id IS NOT NULL;

-- +goose Down
DROP INDEX plan_order_urls_partner;
ALTER TABLE plan_order_urls DROP CONSTRAINT plan_order_urls_partner_fk;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_partner_fk;
ALTER TABLE users DROP CONSTRAINT users_customer_fk;
ALTER TABLE users DROP CONSTRAINT users_partner_fk;
DROP TABLE customers;
DROP TABLE partner_plan_pricing;
DROP TABLE partners;
