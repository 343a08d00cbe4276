package httpapi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/errs"
)

// A database error that input can cause and that still reaches the one
// error handler is the client's 4xx, never a 500; anything else stays 500.
func TestDatabaseInputErrorsAreNot500(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	db := env.App.DB.Gorm
	c := newChain(t, admin, oapi.None)
	_, err := admin.CreatePlanWithResponse(context.Background(), nil, c.plan("Uses the venture", false))
	require.NoError(t, err)
	cust := env.NewCustomer(t, nil)

	// Real errors from PostgreSQL, as a service would wrap them.
	fromDB := func(sql string, args ...any) error {
		err := db.Exec(sql, args...).Error
		require.Error(t, err, sql)
		return errs.Internal(fmt.Errorf("store: %w", err))
	}
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		field  string
	}{
		{"foreign key to nothing", fromDB("UPDATE customers SET partner_id = gen_random_uuid() WHERE id = ?", cust), 422, "partner_not_found", "partner_id"},
		{"delete of a row in use", fromDB("DELETE FROM ventures WHERE id = ?", c.venture), 409, "in_use", ""},
		{"numeric out of range", fromDB("SELECT 1e20::numeric(14,2)"), 422, "amount_too_large", ""},
		{"invalid text representation", fromDB("SELECT 'x'::uuid"), 400, "validation_failed", "body"},
		{"character not in repertoire", fromDB(`SELECT convert_from('\xff'::bytea, 'UTF8')`), 400, "validation_failed", "body"},
		{"datetime overflow", fromDB("SELECT '294277-01-01'::timestamptz"), 422, "date_out_of_range", ""},
		{"check violation", fromDB("UPDATE customers SET credit_limit = -1 WHERE id = ?", cust), 422, "invalid_value", ""},
		{"string too long", errs.Internal(&pgconn.PgError{Code: "22001", Message: "value too long for type character varying(2)"}), 400, "validation_failed", "body"},
		{"not about input", fromDB("SELECT * FROM no_such_table"), 500, "internal", ""},
	}
	for i, tt := range tests {
		path := fmt.Sprintf("/test/db-error/%d", i)
		env.App.HTTP.GET(path, func(echo.Context) error { return tt.err })
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, "GET", env.Server.URL+path, "", "", "")
			p := requireProblem(t, status, h, body, tt.status, tt.code)
			require.NotContains(t, string(body), "SELECT")
			if tt.field != "" {
				require.NotEmpty(t, p.Errors, string(body))
				require.Equal(t, tt.field, p.Errors[0].Field, string(body))
			}
		})
	}
	// Nothing the failed statements touched changed.
	var n int64
	require.NoError(t, db.Raw("SELECT count(*) FROM ventures WHERE id = ?", c.venture).Scan(&n).Error)
	require.EqualValues(t, 1, n)
}
