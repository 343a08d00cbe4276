-- +goose Up
-- Overage: the storage item a service's soft quota is on, and the last day
-- whose usage has been billed for going over it.
ALTER TABLE services ADD COLUMN storage_item text;
ALTER TABLE services ADD COLUMN overage_billed_through date;

-- +goose Down
ALTER TABLE services DROP COLUMN overage_billed_through, DROP COLUMN storage_item;
