package margin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
)

// TestMarginQueryInputs: query strings no client of the generated SDK
// sends (huge or non-numeric months and years, repeated parameters,
// format against Accept). Each is a 4xx with its code and field, or the
// report in the format asked; never a 5xx.
func TestMarginQueryInputs(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	token := env.Login(t, env.NewUser(t, "admin", nil, nil))
	const xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	tests := []struct {
		name, query, accept string
		status              int
		code, field         string // for a problem
		contentType         string // for a 200
	}{
		{"year beyond int64", "month=11&year=99999999999999999999", "", 400, "validation_failed", "year", ""},
		{"year at int64's top", "month=11&year=9223372036854775807", "", 422, "period_in_future", "month", ""},
		{"year at int64's bottom", "month=11&year=-9223372036854775808", "", 422, "year_out_of_range", "year", ""},
		{"month at int64's top", "month=9223372036854775807&year=2026", "", 422, "month_out_of_range", "month", ""},
		{"month 1e2", "month=1e2&year=2026", "", 400, "validation_failed", "month", ""},
		{"month a string", "month=eleven&year=2026", "", 400, "validation_failed", "month", ""},
		{"month empty", "month=&year=2026", "", 400, "validation_failed", "month", ""},
		{"month missing", "year=2026", "", 400, "validation_failed", "month", ""},
		{"month 11.0", "month=11.0&year=2026", "", 400, "validation_failed", "month", ""},
		{"month NUL", "month=1%00&year=2026", "", 400, "validation_failed", "month", ""},
		{"month twice", "month=11&month=10&year=2026", "", 400, "validation_failed", "month", ""},
		{"month twice, the same", "month=11&month=11&year=2026", "", 400, "validation_failed", "month", ""},
		{"group_by twice", "month=11&year=2026&group_by=plan&group_by=partner", "", 400, "validation_failed", "group_by", ""},
		{"group_by in capitals", "month=11&year=2026&group_by=PLAN", "", 400, "validation_failed", "group_by", ""},
		{"format twice", "month=11&year=2026&format=csv&format=xlsx", "", 400, "validation_failed", "format", ""},
		{"format wins over Accept", "month=11&year=2026&group_by=partner&format=csv", xlsx, 200, "", "", "text/csv"},
		{"Accept chooses xlsx", "month=11&year=2026&group_by=plan", xlsx, 200, "", "", xlsx},
		{"Accept of nothing offered", "month=11&year=2026", "application/pdf", 406, "not_acceptable", "", ""},
		{"Accept of nothing offered, format given", "month=11&year=2026&format=json", "application/pdf", 406, "not_acceptable", "", ""},
		{"Accept with q=0 for JSON", "month=11&year=2026", "application/json;q=0, text/csv", 200, "", "", "text/csv"},
		{"a malformed Accept", "month=11&year=2026", ";;;,,q=x", 406, "not_acceptable", "Accept", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, env.Server.URL+"/v1/reports/margin?"+tt.query, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, tt.status, res.StatusCode, string(body))
			if tt.status == 200 {
				require.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), tt.contentType), res.Header.Get("Content-Type"))
				return
			}
			var p struct {
				Code   string `json:"code"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(body, &p), string(body))
			require.Equal(t, tt.code, p.Code, string(body))
			if tt.field != "" {
				require.NotEmpty(t, p.Errors, string(body))
				require.Equal(t, tt.field, p.Errors[0].Field, string(body))
			}
		})
	}
}
