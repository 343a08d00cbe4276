-- +goose Up
-- Mail: default templates per kind, and the outbox of mails (internal/mail).

-- A template that is the default of a kind is the one the platform mails
-- with for that kind; it is editable but not deletable. reply_to is an
-- optional template rendering to one address.
ALTER TABLE email_templates ADD COLUMN kind text;
ALTER TABLE email_templates ADD COLUMN reply_to text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX email_templates_kind_key ON email_templates (kind) WHERE kind IS NOT NULL;

-- Each mail, written in the transaction of its cause and sent by a job.
-- The body is sealed (internal/secret) under the row id: some mails carry a
-- new password. message_id is fixed at enqueue, so any resend carries it.
CREATE TABLE notifications (
    id                uuid PRIMARY KEY,
    recipient         text NOT NULL,
    recipient_name    text NOT NULL DEFAULT '',
    template_id       uuid REFERENCES email_templates (id) ON DELETE SET NULL,
    template_kind     text,
    issuer_name       text NOT NULL,
    venture_id        uuid,
    partner_id        uuid,
    customer_id       uuid,
    subject           text NOT NULL,
    reply_to          text NOT NULL DEFAULT '',
    body_sealed       bytea NOT NULL,
    attachments       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(attachments) = 'array'),
    status            text NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'held')),
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    message_id        text NOT NULL UNIQUE,
    dedupe_key        text UNIQUE,
    sent_at           timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX notifications_page ON notifications (created_at, id);
CREATE INDEX notifications_partner ON notifications (partner_id, created_at, id) WHERE partner_id IS NOT NULL;
CREATE INDEX notifications_status ON notifications (status, created_at, id);

-- The default templates; a name already taken by the SP's own template gets
-- " (default)".
-- +goose StatementBegin
INSERT INTO email_templates (id, name, kind, subject, body, version, created_at, updated_at)
SELECT gen_random_uuid(),
       CASE WHEN EXISTS (SELECT 1 FROM email_templates e WHERE lower(e.name) = lower(d.name)) THEN d.name || ' (default)' ELSE d.name END,
       d.kind, d.subject, d.body, 1, now(), now()
FROM (VALUES
 ('Invoice issued', 'invoice_issued',
  'Invoice {{.Invoice.Number}} from {{.Company.Name}}',
  E'Dear {{.Customer.Name}},\n\nplease find attached invoice {{.Invoice.Number}} of {{.Invoice.IssueDate}} for {{.Invoice.Total}}, due on {{.Invoice.DueDate}}.\n\nThank you,\n{{.Company.Name}}\n'),
 ('Payment received', 'payment_received',
  'Payment received for invoice {{.Invoice.Number}}',
  E'Dear {{.Customer.Name}},\n\nwe received your payment of {{.Payment.Amount}} on {{.Payment.Date}} for invoice {{.Invoice.Number}}. Left to pay on it: {{.Invoice.Balance}}.\n\nThank you,\n{{.Company.Name}}\n'),
 ('Overage invoice', 'overage_invoice',
  'Storage overage: invoice {{.Invoice.Number}}',
  E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} stored more than its quota between {{.Invoice.PeriodStart}} and {{.Invoice.PeriodEnd}}. Invoice {{.Invoice.Number}} for {{.Invoice.Total}} is attached, due on {{.Invoice.DueDate}}.\n\n{{.Company.Name}}\n'),
 ('Post-paid invoice', 'postpaid_invoice',
  'Invoice {{.Invoice.Number}} for {{.Invoice.PeriodStart}} to {{.Invoice.PeriodEnd}}',
  E'Dear {{.Customer.Name}},\n\nplease find attached invoice {{.Invoice.Number}} for your use from {{.Invoice.PeriodStart}} to {{.Invoice.PeriodEnd}}: {{.Invoice.Total}}, due on {{.Invoice.DueDate}}.\n\nThank you,\n{{.Company.Name}}\n'),
 ('Service ready', 'service_ready',
  'Your {{.Service.Name}} is ready',
  E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is ready. Log in at {{.Service.LoginURL}} as {{.Service.Username}} with the password you chose when ordering.\n\n{{.Company.Name}}\n'),
 ('Credentials reset', 'credentials_reset',
  'New password for {{.Service.Name}}',
  E'Dear {{.Customer.Name}},\n\nthe password of {{.Service.Username}} on {{.Service.Name}} was reset. Your new password:\n\n    {{.Service.Password}}\n\nLog in at {{.Service.PortalURL}} and change it.\n\n{{.Company.Name}}\n'),
 ('Suspension notice', 'suspension_notice',
  '{{.Service.Name}} is suspended',
  E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is suspended: invoice {{.Invoice.Number}} of {{.Invoice.Total}} is {{.Days}} days past due. Paying it restores the service.\n\n{{.Company.Name}}\n'),
 ('Termination notice', 'termination_notice',
  '{{.Service.Name}} is terminated',
  E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is terminated and its backups deleted: invoice {{.Invoice.Number}} of {{.Invoice.Total}} stayed unpaid {{.Days}} days past due.\n\n{{.Company.Name}}\n'),
 ('Credit-limit alert', 'credit_limit_alert',
  'Your unpaid balance exceeds your credit limit',
  E'Dear {{.Customer.Name}},\n\nyour unpaid balance of {{.Customer.Balance}} exceeds your credit limit of {{.Customer.CreditLimit}}. Please pay your open invoices.\n\n{{.Company.Name}}\n')
) AS d (name, kind, subject, body)
WHERE NOT EXISTS (SELECT 1 FROM email_templates e WHERE e.kind = d.kind);
-- +goose StatementEnd

-- +goose Down
DROP TABLE notifications;
DELETE FROM email_templates WHERE kind IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM plan_notification_settings p
                    WHERE email_templates.id IN (p.suspension_template_id, p.termination_template_id, p.credit_limit_template_id));
DROP INDEX email_templates_kind_key;
ALTER TABLE email_templates DROP COLUMN reply_to;
ALTER TABLE email_templates DROP COLUMN kind;
