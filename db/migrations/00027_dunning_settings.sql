-- +goose Up
-- Dunning (internal/dunning) reads these: when a plan reminds, whether it
-- suspends on a credit limit, which customers are paused, which partners
-- have a limit, and why a service is suspended (a payment lifts a suspension
-- for non-payment; see internal/subscription).
ALTER TABLE plan_notification_settings
    ADD COLUMN reminder_days           integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN reminder_template_id    uuid REFERENCES email_templates (id) ON DELETE RESTRICT,
    ADD COLUMN suspend_on_credit_limit boolean NOT NULL DEFAULT false;

ALTER TABLE customers
    ADD COLUMN dunning_paused_until     date,
    ADD COLUMN credit_limit_exceeded_at timestamptz;

ALTER TABLE partners
    ADD COLUMN credit_limit             numeric(14,2) CHECK (credit_limit >= 0),
    ADD COLUMN credit_limit_exceeded_at timestamptz;

ALTER TABLE services
    ADD COLUMN suspension_reason text CHECK (suspension_reason IN ('manual', 'overdue', 'credit_limit'));
UPDATE services SET suspension_reason = 'manual' WHERE status = 'suspended';

-- What is owed: dunning and the credit checks read unpaid invoices only.
CREATE INDEX invoices_unpaid_customer ON invoices (customer_id, due_date) WHERE status = 'unpaid' AND customer_id IS NOT NULL;
CREATE INDEX invoices_unpaid_partner ON invoices (partner_id) WHERE status = 'unpaid' AND partner_id IS NOT NULL;

-- +goose Down
DROP INDEX invoices_unpaid_partner;
DROP INDEX invoices_unpaid_customer;
ALTER TABLE services DROP COLUMN suspension_reason;
ALTER TABLE partners DROP COLUMN credit_limit_exceeded_at, DROP COLUMN credit_limit;
ALTER TABLE customers DROP COLUMN credit_limit_exceeded_at, DROP COLUMN dunning_paused_until;
ALTER TABLE plan_notification_settings DROP COLUMN suspend_on_credit_limit, DROP COLUMN reminder_template_id,
    DROP COLUMN reminder_days;
