-- +goose Up
CREATE TABLE email_templates (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX email_templates_name_key ON email_templates (lower(name));
CREATE INDEX email_templates_page ON email_templates (created_at, id);

-- +goose Down
DROP TABLE email_templates;
