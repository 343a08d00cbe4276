-- +goose Up
-- Billing dates of a service, in the SP's time zone: the first billed day,
-- the day of month renewals fall on, and the last active day.
ALTER TABLE services ADD COLUMN start_date date;
ALTER TABLE services ADD COLUMN anchor_day smallint CHECK (anchor_day BETWEEN 1 AND 31);
ALTER TABLE services ADD COLUMN end_date date;
CREATE INDEX services_billing ON services (customer_id) WHERE status IN ('active', 'suspended', 'terminated');

-- Gap-free invoice numbers: one counter per issuer and year, taken under a
-- row lock in the transaction that issues the invoice.
CREATE TABLE invoice_counters (
    scope text NOT NULL,
    year  integer NOT NULL,
    last  bigint NOT NULL,
    PRIMARY KEY (scope, year)
);

CREATE TABLE billing_runs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('all', 'renewals', 'postpaid')),
    as_of         date NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    invoices      integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    total         numeric(16,2) NOT NULL DEFAULT 0,
    failures      jsonb NOT NULL DEFAULT '[]',
    requested_by  text NOT NULL,
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX billing_runs_page ON billing_runs (created_at, id);

CREATE TABLE invoices (
    id                uuid PRIMARY KEY,
    number            text UNIQUE,
    billing_key       text NOT NULL UNIQUE,
    venture_id        uuid NOT NULL REFERENCES ventures (id),
    issuer_partner_id uuid REFERENCES partners (id),
    customer_id       uuid REFERENCES customers (id),
    partner_id        uuid REFERENCES partners (id),
    kind              text NOT NULL CHECK (kind IN ('prepaid', 'renewal', 'postpaid')),
    status            text NOT NULL CHECK (status IN ('draft', 'unpaid', 'paid', 'void')),
    currency          text NOT NULL,
    subtotal          numeric(14,2) NOT NULL,
    tax_total         numeric(14,2) NOT NULL,
    total             numeric(14,2) NOT NULL,
    amount_paid       numeric(14,2) NOT NULL DEFAULT 0,
    issue_date        date,
    due_date          date,
    period_start      date NOT NULL,
    period_end        date NOT NULL,
    billing_run_id    uuid REFERENCES billing_runs (id),
    paid_at           timestamptz,
    voided_at         timestamptz,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- billed to a customer or, for the SP's invoice of a partner sale, a partner
    CONSTRAINT invoices_bill_to CHECK ((customer_id IS NULL) <> (partner_id IS NULL)),
    CONSTRAINT invoices_paid CHECK (amount_paid >= 0 AND amount_paid <= total)
);
CREATE INDEX invoices_page ON invoices (created_at, id);
CREATE INDEX invoices_customer ON invoices (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX invoices_partner ON invoices (partner_id) WHERE partner_id IS NOT NULL;
CREATE INDEX invoices_issuer ON invoices (issuer_partner_id) WHERE issuer_partner_id IS NOT NULL;

CREATE TABLE invoice_lines (
    id           uuid PRIMARY KEY,
    invoice_id   uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('recurring', 'setup', 'proration', 'usage', 'overage', 'credit')),
    service_id   uuid REFERENCES services (id),
    description  text NOT NULL,
    period_start date,
    period_end   date,
    quantity     numeric(18,4) NOT NULL,
    unit_price   numeric(14,2) NOT NULL,
    amount       numeric(14,2) NOT NULL,
    tax_ids      uuid[] NOT NULL DEFAULT '{}',
    detail       jsonb NOT NULL DEFAULT '{}',
    UNIQUE (invoice_id, position)
);
CREATE INDEX invoice_lines_service ON invoice_lines (service_id);

CREATE TABLE invoice_taxes (
    invoice_id uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    tax_id     uuid NOT NULL,
    name       text NOT NULL,
    rate       numeric(7,4) NOT NULL,
    base       numeric(14,2) NOT NULL,
    amount     numeric(14,2) NOT NULL,
    PRIMARY KEY (invoice_id, tax_id)
);

-- One bill per service, party (the customer, or the partner at cost) and
-- period: whatever runs twice, the second insert here fails.
CREATE TABLE billed_periods (
    service_id   uuid NOT NULL REFERENCES services (id),
    party        text NOT NULL CHECK (party IN ('customer', 'partner')),
    period_start date NOT NULL,
    invoice_id   uuid NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (service_id, party, period_start)
);

CREATE TABLE payments (
    id          uuid PRIMARY KEY,
    invoice_id  uuid NOT NULL REFERENCES invoices (id),
    amount      numeric(14,2) NOT NULL CHECK (amount > 0),
    method      text NOT NULL,
    reference   text NOT NULL DEFAULT '',
    paid_at     timestamptz NOT NULL,
    recorded_by text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX payments_invoice ON payments (invoice_id);

-- What the vendor reported per tenant, item and day (SP time zone).
CREATE TABLE usage_daily (
    tenant_id text NOT NULL,
    item      text NOT NULL,
    day       date NOT NULL,
    value     bigint NOT NULL,
    unit      text NOT NULL,
    synced_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, item, day)
);

CREATE TABLE usage_syncs (
    id           uuid PRIMARY KEY,
    day          date NOT NULL,
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'partial', 'failed')),
    tenants      integer NOT NULL DEFAULT 0,
    rows         integer NOT NULL DEFAULT 0,
    failures     jsonb NOT NULL DEFAULT '[]',
    requested_by text NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX usage_syncs_page ON usage_syncs (created_at, id);

-- +goose Down
DROP TABLE usage_syncs;
DROP TABLE usage_daily;
DROP TABLE payments;
DROP TABLE billed_periods;
DROP TABLE invoice_taxes;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE billing_runs;
DROP TABLE invoice_counters;
DROP INDEX services_billing;
ALTER TABLE services DROP COLUMN end_date, DROP COLUMN anchor_day, DROP COLUMN start_date;
