-- +goose Up
-- An overage invoice: storage over quota billed on request, between renewals.
ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('prepaid', 'renewal', 'postpaid', 'overage'));

-- +goose Down
ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('prepaid', 'renewal', 'postpaid'));
