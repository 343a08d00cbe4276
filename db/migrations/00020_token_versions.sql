-- +goose Up
-- A user's tokens carry the version they were issued at; a change of
-- password or of role (or of the partner or customer the user acts for)
-- moves the version on, so every token issued before stops working. The
-- trigger catches every way the row changes, not only the API's.
ALTER TABLE users ADD COLUMN token_version bigint NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE FUNCTION users_token_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash
        OR NEW.role IS DISTINCT FROM OLD.role
        OR NEW.partner_id IS DISTINCT FROM OLD.partner_id
        OR NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
        NEW.token_version := OLD.token_version + 1;
    ELSE
        NEW.token_version := OLD.token_version;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_token_version BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_token_version();

-- +goose Down
DROP TRIGGER users_token_version ON users;
DROP FUNCTION users_token_version();
ALTER TABLE users DROP COLUMN token_version;
