-- +goose Up
-- A void releases what its invoice claimed (its billed periods and overage
-- windows) so that they are billed again; what it released is kept here.
-- Invoices voided before this keep their claims (they were voided as "not
-- to be billed again").

-- A prepaid period behind the service's due date (a partner's bill voided
-- after its customer's renewal moved the due date on, the first invoice of
-- an active service) is billed again by the next run from this list.
CREATE TABLE released_periods (
    service_id   uuid NOT NULL REFERENCES services (id),
    party        text NOT NULL CHECK (party IN ('customer', 'partner')),
    period_start date NOT NULL,
    invoice_id   uuid NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (invoice_id, service_id, party, period_start)
);
CREATE INDEX released_periods_service ON released_periods (service_id, party, period_start);

-- Overage days released may lie before a later window of the same party:
-- the next bill of that party looks at them again, whatever its own
-- window, until a window claims them.
CREATE TABLE overage_released (
    service_id uuid NOT NULL REFERENCES services (id),
    party      text NOT NULL CHECK (party IN ('customer', 'partner')),
    first_day  date NOT NULL,
    last_day   date NOT NULL,
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    CHECK (first_day <= last_day),
    PRIMARY KEY (invoice_id, service_id, party, first_day)
);
CREATE INDEX overage_released_service ON overage_released (service_id, party);

-- A void finds an invoice's claims by invoice, as settling does.
CREATE INDEX billed_periods_invoice ON billed_periods (invoice_id);
CREATE INDEX overage_windows_invoice ON overage_windows (invoice_id) WHERE invoice_id IS NOT NULL;

-- +goose Down
DROP INDEX overage_windows_invoice;
DROP INDEX billed_periods_invoice;
DROP TABLE overage_released;
DROP TABLE released_periods;
