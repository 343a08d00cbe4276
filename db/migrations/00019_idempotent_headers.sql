-- +goose Up
-- The headers of a stored answer that a replay must repeat (ETag, Location,
-- Retry-After): a client that retries a create is told the same version and
-- the same place to poll as the first answer said.
ALTER TABLE idempotency_keys ADD COLUMN response_headers jsonb;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN response_headers;
