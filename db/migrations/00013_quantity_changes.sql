-- +goose Up
-- Quantity changes of a service, from a day on: post-paid months are
-- billed per stretch of days at each quantity.
CREATE TABLE service_quantity_changes (
    service_id uuid NOT NULL REFERENCES services (id),
    day        date NOT NULL,
    quantity   integer NOT NULL CHECK (quantity >= 1),
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (service_id, day)
);

-- Money owed back to a party of a service (a prepaid quantity lowered
-- mid-period), taken off its next bills.
CREATE TABLE service_credits (
    id          uuid PRIMARY KEY,
    service_id  uuid NOT NULL REFERENCES services (id),
    party       text NOT NULL CHECK (party IN ('customer', 'partner')),
    amount      numeric(14,2) NOT NULL CHECK (amount > 0),
    remaining   numeric(14,2) NOT NULL CHECK (remaining >= 0),
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX service_credits_open ON service_credits (service_id, party) WHERE remaining > 0;

ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('prepaid', 'renewal', 'postpaid', 'overage', 'adjustment'));

-- +goose Down
ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('prepaid', 'renewal', 'postpaid', 'overage'));
DROP TABLE service_credits;
DROP TABLE service_quantity_changes;
