-- +goose Up
-- Runs and syncs count as their chunks commit and beat a heartbeat; one
-- whose worker stopped beating is marked interrupted.
ALTER TABLE billing_runs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE billing_runs DROP CONSTRAINT billing_runs_status_check;
ALTER TABLE billing_runs ADD CONSTRAINT billing_runs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'interrupted'));
CREATE INDEX billing_runs_running ON billing_runs (heartbeat_at) WHERE status = 'running';
-- A run counts the bills of its month found made already.
CREATE INDEX billed_periods_period ON billed_periods (period_start, party);

ALTER TABLE usage_syncs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE usage_syncs DROP CONSTRAINT usage_syncs_status_check;
ALTER TABLE usage_syncs ADD CONSTRAINT usage_syncs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'partial', 'failed', 'interrupted'));
CREATE INDEX usage_syncs_running ON usage_syncs (heartbeat_at) WHERE status = 'running';

-- Credit belongs to a bill-to party (a customer, or a partner billed at
-- cost) with an issuer (the partner that issued the bill, else the SP's
-- venture), not to a service: it outlives the service it came from.
CREATE TABLE credits (
    id                uuid PRIMARY KEY,
    customer_id       uuid REFERENCES customers (id),
    partner_id        uuid REFERENCES partners (id),
    venture_id        uuid NOT NULL REFERENCES ventures (id),
    issuer_partner_id uuid REFERENCES partners (id),
    service_id        uuid REFERENCES services (id),
    amount            numeric(14,2) NOT NULL CHECK (amount > 0),
    remaining         numeric(14,2) NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    reason            text NOT NULL,
    created_at        timestamptz NOT NULL,
    CONSTRAINT credits_bill_to CHECK ((customer_id IS NULL) <> (partner_id IS NULL)),
    -- a partner's own bills are the SP's
    CONSTRAINT credits_partner_issuer CHECK (partner_id IS NULL OR issuer_partner_id IS NULL)
);
CREATE INDEX credits_open_customer ON credits (customer_id, created_at) WHERE remaining > 0 AND customer_id IS NOT NULL;
CREATE INDEX credits_open_partner ON credits (partner_id, created_at) WHERE remaining > 0 AND partner_id IS NOT NULL;

-- What each invoice took of each credit: voiding the invoice gives it back.
CREATE TABLE credit_applications (
    credit_id  uuid NOT NULL REFERENCES credits (id),
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    amount     numeric(14,2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (credit_id, invoice_id)
);
CREATE INDEX credit_applications_invoice ON credit_applications (invoice_id);

INSERT INTO credits (id, customer_id, partner_id, venture_id, issuer_partner_id, service_id, amount, remaining, reason, created_at)
SELECT c.id,
       CASE WHEN c.party = 'customer' THEN s.customer_id END,
       CASE WHEN c.party = 'partner' THEN s.partner_id END,
       p.venture_id,
       CASE WHEN c.party = 'customer' THEN s.partner_id END,
       c.service_id, c.amount, c.remaining, c.reason, c.created_at
FROM service_credits c
JOIN services s ON s.id = c.service_id
JOIN plans p ON p.id = s.plan_id;
DROP TABLE service_credits;

-- Overage windows billed per service and party: every path that bills
-- overage claims its window here in the storing transaction, and no two
-- windows of a service and party may share a day.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE overage_windows (
    service_id uuid NOT NULL REFERENCES services (id),
    party      text NOT NULL CHECK (party IN ('customer', 'partner')),
    first_day  date NOT NULL,
    last_day   date NOT NULL,
    invoice_id uuid REFERENCES invoices (id),
    CHECK (first_day <= last_day),
    PRIMARY KEY (service_id, party, first_day),
    CONSTRAINT overage_windows_once EXCLUDE USING gist (service_id WITH =, party WITH =, daterange(first_day, last_day, '[]') WITH &&)
);
CREATE INDEX overage_windows_last ON overage_windows (service_id, party, last_day);

-- What was billed so far, as one window per party (invoice unknown).
INSERT INTO overage_windows (service_id, party, first_day, last_day)
SELECT id, 'customer', start_date, overage_billed_through FROM services
WHERE overage_billed_through IS NOT NULL AND start_date IS NOT NULL AND start_date <= overage_billed_through;
INSERT INTO overage_windows (service_id, party, first_day, last_day)
SELECT id, 'partner', start_date, overage_billed_through FROM services
WHERE overage_billed_through IS NOT NULL AND start_date IS NOT NULL AND start_date <= overage_billed_through
  AND partner_id IS NOT NULL AND unit_cost IS NOT NULL;
ALTER TABLE services DROP COLUMN overage_billed_through;

-- +goose Down
ALTER TABLE services ADD COLUMN overage_billed_through date;
UPDATE services s SET overage_billed_through = w.last_day
FROM (SELECT service_id, max(last_day) AS last_day FROM overage_windows WHERE party = 'customer' GROUP BY service_id) w
WHERE w.service_id = s.id;
DROP TABLE overage_windows;

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
INSERT INTO service_credits (id, service_id, party, amount, remaining, reason, created_at)
SELECT id, service_id, CASE WHEN customer_id IS NOT NULL THEN 'customer' ELSE 'partner' END, amount, remaining, reason, created_at
FROM credits WHERE service_id IS NOT NULL;
DROP TABLE credit_applications;
DROP TABLE credits;

DROP INDEX usage_syncs_running;
UPDATE usage_syncs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE usage_syncs DROP CONSTRAINT usage_syncs_status_check;
ALTER TABLE usage_syncs ADD CONSTRAINT usage_syncs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'partial', 'failed'));
ALTER TABLE usage_syncs DROP COLUMN heartbeat_at;

DROP INDEX billed_periods_period;
DROP INDEX billing_runs_running;
UPDATE billing_runs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE billing_runs DROP CONSTRAINT billing_runs_status_check;
ALTER TABLE billing_runs ADD CONSTRAINT billing_runs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'failed'));
ALTER TABLE billing_runs DROP COLUMN heartbeat_at;
