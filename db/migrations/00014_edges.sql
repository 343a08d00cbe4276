-- +goose Up
-- Every invoice prefix ever printed on an invoice, and whose numbers it
-- starts (scope = the counter's: 'venture:<id>' or 'partner:<id>'). A prefix
-- is claimed in the transaction that numbers its first invoice; from then on
-- the venture's prefix is frozen and no one else may take it, so numbers
-- stay unique and gap-free per issuer and year whatever is edited.
CREATE TABLE used_invoice_prefixes (
    prefix        text PRIMARY KEY,
    scope         text NOT NULL,
    first_used_at timestamptz NOT NULL
);
CREATE INDEX used_invoice_prefixes_scope ON used_invoice_prefixes (scope);

INSERT INTO used_invoice_prefixes (prefix, scope, first_used_at)
SELECT DISTINCT ON (prefix) prefix, scope, created_at
FROM (
    SELECT substring(number FROM '^(.*)-[0-9]{4}-[0-9]+$') AS prefix,
           CASE WHEN issuer_partner_id IS NULL THEN 'venture:' || venture_id ELSE 'partner:' || issuer_partner_id END AS scope,
           created_at
    FROM invoices
    WHERE number IS NOT NULL
) used
WHERE prefix IS NOT NULL
ORDER BY prefix, created_at;

-- The sandbox clock: how far the platform runs ahead of the wall clock.
-- One row, shared by every instance and kept across restarts.
CREATE TABLE sandbox_clock (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    offset_us  bigint NOT NULL DEFAULT 0 CHECK (offset_us >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO sandbox_clock (id) VALUES (true);

-- +goose Down
DROP TABLE sandbox_clock;
DROP TABLE used_invoice_prefixes;
