-- +goose Up
-- Dunning (internal/dunning): the runs, the actions each taken once (a
-- unique key per action, claimed with a lease by the run acting on it) and
-- what each run did to each action.
CREATE TABLE dunning_runs (
    id           uuid PRIMARY KEY,
    as_of        date NOT NULL,
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'interrupted')),
    checked      integer NOT NULL DEFAULT 0,
    reminders    integer NOT NULL DEFAULT 0,
    suspended    integer NOT NULL DEFAULT 0,
    terminated   integer NOT NULL DEFAULT 0,
    unsuspended  integer NOT NULL DEFAULT 0,
    credit_alerts integer NOT NULL DEFAULT 0,
    skipped      integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    failures     jsonb NOT NULL DEFAULT '[]',
    requested_by text NOT NULL,
    started_at   timestamptz,
    heartbeat_at timestamptz,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX dunning_runs_page ON dunning_runs (created_at, id);
CREATE INDEX dunning_runs_running ON dunning_runs (heartbeat_at) WHERE status = 'running';

CREATE TABLE dunning_actions (
    id            uuid PRIMARY KEY,
    key           text NOT NULL UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('reminder', 'suspend', 'terminate', 'credit_alert', 'credit_suspend',
                                                'credit_unsuspend', 'partner_credit_alert')),
    service_id    uuid REFERENCES services (id) ON DELETE CASCADE,
    customer_id   uuid REFERENCES customers (id) ON DELETE CASCADE,
    partner_id    uuid REFERENCES partners (id) ON DELETE CASCADE,
    invoice_id    uuid REFERENCES invoices (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    outcome       text,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    claimed_by    uuid,
    claimed_until timestamptz,
    done_at       timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX dunning_actions_open ON dunning_actions (created_at) WHERE status <> 'done';
CREATE INDEX dunning_actions_customer ON dunning_actions (customer_id, kind);
CREATE INDEX dunning_actions_partner ON dunning_actions (partner_id, kind) WHERE partner_id IS NOT NULL;

-- What a run did to an action: the action's result in that run (a failure
-- in one run and its success in the next are two rows).
CREATE TABLE dunning_run_actions (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES dunning_runs (id) ON DELETE CASCADE,
    action_id   uuid NOT NULL REFERENCES dunning_actions (id) ON DELETE CASCADE,
    result      text NOT NULL CHECK (result IN ('done', 'failed', 'skipped')),
    outcome     text,
    error       text,
    created_at  timestamptz NOT NULL,
    UNIQUE (run_id, action_id)
);
CREATE INDEX dunning_run_actions_page ON dunning_run_actions (run_id, created_at, id);

-- Credit suspensions are looked for daily, to be lifted.
CREATE INDEX services_credit_suspended ON services (id) WHERE suspension_reason = 'credit_limit';

-- The default payment reminder (a plan may name its own).
INSERT INTO email_templates (id, name, kind, subject, body, version, created_at, updated_at)
SELECT gen_random_uuid(),
       CASE WHEN EXISTS (SELECT 1 FROM email_templates e WHERE lower(e.name) = 'payment reminder') THEN 'Payment reminder (default)' ELSE 'Payment reminder' END,
       'payment_reminder',
       'Payment reminder: invoice {{.Invoice.Number}} due on {{.Invoice.DueDate}}',
       E'Dear {{.Customer.Name}},\n\ninvoice {{.Invoice.Number}} of {{.Invoice.Total}}{{if .Service.Name}} for {{.Service.Name}}{{end}} is due on {{.Invoice.DueDate}}; {{.Invoice.Balance}} is left to pay. Please pay it to keep your service running.\n\n{{.Company.Name}}\n',
       1, now(), now()
WHERE NOT EXISTS (SELECT 1 FROM email_templates e WHERE e.kind = 'payment_reminder');

-- +goose Down
DELETE FROM email_templates WHERE kind = 'payment_reminder'
    AND NOT EXISTS (SELECT 1 FROM plan_notification_settings p WHERE email_templates.id = p.reminder_template_id);
UPDATE email_templates SET kind = NULL WHERE kind = 'payment_reminder';
DROP INDEX services_credit_suspended;
DROP TABLE dunning_run_actions;
DROP TABLE dunning_actions;
DROP TABLE dunning_runs;
