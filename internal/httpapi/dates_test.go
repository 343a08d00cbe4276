package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
)

// Every date and date-time a request carries is from 2000-01-01 and before
// 2100-01-01: a well-formed one outside is 422 date_out_of_range naming the
// field; nothing is stored.
func TestDatesOutOfRangeAre422(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tok := adminToken(t, env)
	base := env.Server.URL
	payment := "/v1/invoices/" + uuid.NewString() + "/payments"
	pay := func(paidAt string) string {
		return `{"amount":{"amount":"1.00","currency":"USD"},"method":"cash","paid_at":"` + paidAt + `"}`
	}

	tests := []struct {
		name, path, body string
		status           int
		code, field      string
		fieldCode        string
	}{
		{"as_of in year 1", "/v1/billing-runs", `{"kind":"all","as_of":"0001-01-01"}`, 422, "date_out_of_range", "as_of", "date_out_of_range"},
		{"as_of the day before the epoch", "/v1/billing-runs", `{"kind":"all","as_of":"1999-12-31"}`, 422, "date_out_of_range", "as_of", "date_out_of_range"},
		{"as_of at the horizon", "/v1/billing-runs", `{"kind":"all","as_of":"2100-01-01"}`, 422, "date_out_of_range", "as_of", "date_out_of_range"},
		{"as_of in year 9999", "/v1/billing-runs", `{"kind":"all","as_of":"9999-12-31"}`, 422, "date_out_of_range", "as_of", "date_out_of_range"},
		{"as_of not a day", "/v1/billing-runs", `{"kind":"all","as_of":"2023-02-30"}`, 400, "validation_failed", "as_of", "invalid_format"},
		{"out of range and malformed", "/v1/billing-runs", `{"kind":"bogus","as_of":"0001-01-01"}`, 400, "validation_failed", "", ""},
		{"paid_at in year 1", payment, pay("0001-01-01T00:00:00Z"), 422, "date_out_of_range", "paid_at", "date_out_of_range"},
		{"paid_at far ahead", payment, pay("9999-12-31T23:59:59Z"), 422, "date_out_of_range", "paid_at", "date_out_of_range"},
		{"paid_at with an offset before the epoch", payment, pay("1999-12-31T23:00:00-05:00"), 422, "date_out_of_range", "paid_at", "date_out_of_range"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				status, h, body := raw(t, "POST", base+tt.path, tok, "application/json", tt.body, "Idempotency-Key", uuid.NewString())
				p := requireProblem(t, status, h, body, tt.status, tt.code)
				require.NotEmpty(t, p.Errors, string(body))
				if tt.field != "" {
					require.Equal(t, tt.field, p.Errors[0].Field, string(body))
					require.Equal(t, tt.fieldCode, p.Errors[0].Code, string(body))
				}
			})
		}
	})
	var n int64
	require.NoError(t, env.App.DB.Gorm.Table("billing_runs").Where("as_of < '2000-01-01' OR as_of >= '2100-01-01'").Count(&n).Error)
	require.Zero(t, n, "a refused request started a run")

	// The bounds themselves are dates like any other.
	status, _, body := raw(t, "POST", base+payment, tok, "application/json", pay("2000-01-01T00:00:00Z"), "Idempotency-Key", uuid.NewString())
	require.Equal(t, http.StatusNotFound, status, string(body)) // past validation: the invoice does not exist
}
