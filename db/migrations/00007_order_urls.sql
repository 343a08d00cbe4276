-- +goose Up
-- One public token per plan, billing frequency (and, later, partner).
CREATE TABLE plan_order_urls (
    token      text PRIMARY KEY,
    plan_id    uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    frequency  text NOT NULL,
    partner_id uuid,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX plan_order_urls_key
    ON plan_order_urls (plan_id, frequency, coalesce(partner_id, '00000000-0000-0000-0000-000000000000'));

-- +goose Down
DROP TABLE plan_order_urls;
