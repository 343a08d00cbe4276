-- +goose Up
-- Reconciliation (internal/reconcile): which vendor accounts to compare and
-- how, the reports (one per request, immutable once completed) and their
-- rows (written once, when the report completes).
CREATE TABLE reconciliation_settings (
    id                      integer PRIMARY KEY CHECK (id = 1),
    -- null: every account (the SP's and each Acronis plan's, distinct by
    -- URL and client id); else a list of {"url", "client_id"}.
    accounts                jsonb,
    default_period          text NOT NULL CHECK (default_period IN ('previous_month', 'current_month', 'last_30_days')),
    usage_tolerance_percent numeric(5, 2) NOT NULL CHECK (usage_tolerance_percent BETWEEN 0 AND 100),
    version                 bigint NOT NULL DEFAULT 1,
    updated_at              timestamptz NOT NULL
);
INSERT INTO reconciliation_settings (id, accounts, default_period, usage_tolerance_percent, updated_at)
VALUES (1, NULL, 'previous_month', 1, now());

CREATE TABLE reconciliation_reports (
    id                uuid PRIMARY KEY,
    period_from       date NOT NULL,
    period_to         date NOT NULL CHECK (period_to >= period_from),
    status            text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    accounts          jsonb NOT NULL DEFAULT '[]',
    tolerance_percent numeric(5, 2) NOT NULL,
    rows_compared     integer NOT NULL DEFAULT 0,
    ok                integer NOT NULL DEFAULT 0,
    orphan_tenant     integer NOT NULL DEFAULT 0,
    missing_tenant    integer NOT NULL DEFAULT 0,
    status_mismatch   integer NOT NULL DEFAULT 0,
    quota_mismatch    integer NOT NULL DEFAULT 0,
    usage_mismatch    integer NOT NULL DEFAULT 0,
    edition_mismatch  integer NOT NULL DEFAULT 0,
    reason            text,
    requested_by      text NOT NULL,
    started_at        timestamptz,
    heartbeat_at      timestamptz,
    finished_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX reconciliation_reports_page ON reconciliation_reports (created_at, id);

CREATE TABLE reconciliation_rows (
    report_id      uuid NOT NULL REFERENCES reconciliation_reports (id) ON DELETE CASCADE,
    position       integer NOT NULL,
    account        text NOT NULL,
    tenant_id      text NOT NULL,
    tenant_name    text NOT NULL DEFAULT '',
    service_id     uuid,
    customer_id    uuid,
    partner_id     uuid,
    plan_id        uuid,
    item           text NOT NULL DEFAULT '',
    flag           text NOT NULL CHECK (flag IN ('ok', 'orphan_tenant', 'missing_tenant', 'status_mismatch', 'quota_mismatch',
                                                 'usage_mismatch', 'edition_mismatch')),
    platform_value text NOT NULL DEFAULT '',
    vendor_value   text NOT NULL DEFAULT '',
    detail         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (report_id, position)
);
CREATE INDEX reconciliation_rows_flag ON reconciliation_rows (report_id, flag, position);

-- A completed report and its rows never change.
-- +goose StatementBegin
CREATE FUNCTION reconciliation_report_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'completed' THEN
        RAISE EXCEPTION 'reconciliation report % is completed and cannot change', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE FUNCTION reconciliation_rows_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM reconciliation_reports r
               WHERE r.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.report_id ELSE NEW.report_id END AND r.status = 'completed') THEN
        RAISE EXCEPTION 'the rows of a completed reconciliation report cannot change' USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
-- +goose StatementEnd
CREATE TRIGGER reconciliation_reports_frozen BEFORE UPDATE OR DELETE ON reconciliation_reports
    FOR EACH ROW EXECUTE FUNCTION reconciliation_report_frozen();
CREATE TRIGGER reconciliation_rows_frozen BEFORE INSERT OR UPDATE OR DELETE ON reconciliation_rows
    FOR EACH ROW EXECUTE FUNCTION reconciliation_rows_frozen();

-- +goose Down
DROP TABLE reconciliation_rows;
DROP TABLE reconciliation_reports;
DROP TABLE reconciliation_settings;
DROP FUNCTION reconciliation_rows_frozen();
DROP FUNCTION reconciliation_report_frozen();
