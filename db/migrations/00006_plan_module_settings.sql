-- +goose Up
CREATE TABLE plan_module_settings (
    plan_id           uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    datacenter_url    text NOT NULL,
    client_id         text NOT NULL,
    client_secret_enc bytea NOT NULL, -- AES-GCM under ENCRYPTION_KEY, bound to the plan id
    free_trial        boolean NOT NULL,
    storage_quota_gb  integer CHECK (storage_quota_gb >= -1),
    overage_quota_gb  integer CHECK (overage_quota_gb >= -1),
    edition           text NOT NULL,
    backup_location   text NOT NULL,
    offering_items    jsonb NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT hard_needs_soft CHECK (overage_quota_gb IS NULL OR storage_quota_gb IS NOT NULL)
);

-- +goose Down
DROP TABLE plan_module_settings;
