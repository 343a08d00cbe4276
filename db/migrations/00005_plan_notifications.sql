-- +goose Up
CREATE TABLE plan_notification_settings (
    plan_id                  uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    suspension_days          integer NOT NULL CHECK (suspension_days >= 0),
    suspension_template_id   uuid REFERENCES email_templates (id) ON DELETE RESTRICT,
    termination_days         integer NOT NULL,
    termination_template_id  uuid REFERENCES email_templates (id) ON DELETE RESTRICT,
    credit_limit_template_id uuid REFERENCES email_templates (id) ON DELETE RESTRICT,
    updated_at               timestamptz NOT NULL,
    CONSTRAINT termination_after_suspension CHECK (termination_days > suspension_days)
);

-- +goose Down
DROP TABLE plan_notification_settings;
