-- +goose Up
-- The integrator's own string map on customers, orders and services (see
-- internal/metadata for its bounds, checked before it is stored). Lists
-- filter on it by containment (metadata @> '{"k":"v"}'), which a GIN index
-- with jsonb_path_ops answers.
ALTER TABLE customers ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(metadata) = 'object');
ALTER TABLE orders ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(metadata) = 'object');
ALTER TABLE services ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(metadata) = 'object');
CREATE INDEX customers_metadata ON customers USING gin (metadata jsonb_path_ops);
CREATE INDEX orders_metadata ON orders USING gin (metadata jsonb_path_ops);
CREATE INDEX services_metadata ON services USING gin (metadata jsonb_path_ops);

-- +goose Down
DROP INDEX services_metadata;
DROP INDEX orders_metadata;
DROP INDEX customers_metadata;
ALTER TABLE services DROP COLUMN metadata;
ALTER TABLE orders DROP COLUMN metadata;
ALTER TABLE customers DROP COLUMN metadata;
