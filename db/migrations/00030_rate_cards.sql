-- +goose Up
-- What the vendor charges the SP per unit, for one product group (module
-- acronis) and month. Re-importing a month replaces its card: the old one
-- stays, as a previous version, with replaced_at and replaced_by set.
CREATE TABLE rate_cards (
    id               uuid PRIMARY KEY,
    product_group_id uuid NOT NULL REFERENCES product_groups (id) ON DELETE CASCADE,
    year             integer NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    month            integer NOT NULL CHECK (month BETWEEN 1 AND 12),
    version          integer NOT NULL CHECK (version >= 1),
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    exchange_rate    numeric(18,6) NOT NULL CHECK (exchange_rate > 0), -- base currency per unit of currency
    base_currency    text NOT NULL CHECK (base_currency ~ '^[A-Z]{3}$'),
    file_name        text NOT NULL,
    file             bytea NOT NULL, -- the workbook as imported
    file_sha256      text NOT NULL,
    row_count        integer NOT NULL CHECK (row_count >= 1),
    imported_by      text NOT NULL,
    replaced_at      timestamptz,
    replaced_by      uuid REFERENCES rate_cards (id) DEFERRABLE INITIALLY DEFERRED, -- set with replaced_at, before the new card is inserted
    created_at       timestamptz NOT NULL,
    UNIQUE (product_group_id, year, month, version)
);
-- One current card per group and month.
CREATE UNIQUE INDEX rate_cards_current ON rate_cards (product_group_id, year, month) WHERE replaced_at IS NULL;

CREATE TABLE rate_card_rows (
    rate_card_id uuid NOT NULL REFERENCES rate_cards (id) ON DELETE CASCADE,
    row          integer NOT NULL, -- the row number the spreadsheet shows
    sku          text NOT NULL,    -- vendor SKU or offering item name
    description  text NOT NULL,
    unit         text NOT NULL,
    unit_cost    numeric(18,6) NOT NULL CHECK (unit_cost >= 0),
    basis        text NOT NULL CHECK (basis IN ('usage', 'quota')), -- what the vendor bills: the usage or the quota set
    PRIMARY KEY (rate_card_id, row)
);
CREATE UNIQUE INDEX rate_card_rows_sku ON rate_card_rows (rate_card_id, lower(sku));

-- An imported card never changes, except that it is marked replaced once.
-- +goose StatementBegin
CREATE FUNCTION rate_card_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.replaced_at IS NOT NULL OR NEW.replaced_at IS NULL
       OR (to_jsonb(NEW) - 'replaced_at' - 'replaced_by') <> (to_jsonb(OLD) - 'replaced_at' - 'replaced_by') THEN
        RAISE EXCEPTION 'rate card % cannot change', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION rate_card_row_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rate card rows cannot change' USING ERRCODE = 'check_violation';
END $$;
-- +goose StatementEnd
CREATE TRIGGER rate_card_frozen BEFORE UPDATE ON rate_cards
    FOR EACH ROW EXECUTE FUNCTION rate_card_frozen();
CREATE TRIGGER rate_card_row_frozen BEFORE UPDATE ON rate_card_rows
    FOR EACH ROW EXECUTE FUNCTION rate_card_row_frozen();

-- +goose Down
DROP TABLE rate_card_rows;
DROP TABLE rate_cards;
DROP FUNCTION rate_card_row_frozen();
DROP FUNCTION rate_card_frozen();
