-- +goose Up
CREATE TABLE ventures (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    invoice_prefix text NOT NULL UNIQUE,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX ventures_page ON ventures (created_at, id);

CREATE TABLE taxes (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    rate       numeric(7, 4) NOT NULL CHECK (rate >= 0 AND rate <= 100),
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX taxes_page ON taxes (created_at, id);

CREATE TABLE product_types (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX product_types_name_key ON product_types (lower(name));
CREATE INDEX product_types_page ON product_types (created_at, id);

CREATE TABLE products (
    id              uuid PRIMARY KEY,
    product_type_id uuid NOT NULL REFERENCES product_types (id) ON DELETE RESTRICT,
    name            text NOT NULL,
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX products_name_key ON products (product_type_id, lower(name));
CREATE INDEX products_page ON products (created_at, id);

CREATE TABLE product_groups (
    id         uuid PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    name       text NOT NULL,
    module     text NOT NULL CHECK (module IN ('acronis', 'none')),
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX product_groups_name_key ON product_groups (product_id, lower(name));
CREATE INDEX product_groups_page ON product_groups (created_at, id);

CREATE TABLE product_group_taxes (
    product_group_id uuid NOT NULL REFERENCES product_groups (id) ON DELETE CASCADE,
    tax_id           uuid NOT NULL REFERENCES taxes (id) ON DELETE RESTRICT,
    PRIMARY KEY (product_group_id, tax_id)
);
CREATE INDEX product_group_taxes_tax ON product_group_taxes (tax_id);

-- +goose Down
DROP TABLE product_group_taxes;
DROP TABLE product_groups;
DROP TABLE products;
DROP TABLE product_types;
DROP TABLE taxes;
DROP TABLE ventures;
