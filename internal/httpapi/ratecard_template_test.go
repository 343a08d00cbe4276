package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// templateBook is a downloaded template read back.
type templateBook struct {
	source string
	file   *excelize.File
}

func (b templateBook) rows(t *testing.T, sheet string) [][]string {
	t.Helper()
	rows, err := b.file.GetRows(sheet)
	require.NoError(t, err)
	return rows
}

// notes maps the notes sheet's topics to their text.
func (b templateBook) notes(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range b.rows(t, ratecard.NotesSheet)[1:] {
		require.Len(t, r, 2)
		out[r[0]] = r[1]
	}
	return out
}

// offering lists the offering sheet's rows below its header.
func (b templateBook) offering(t *testing.T) [][]string {
	t.Helper()
	rows := b.rows(t, ratecard.OfferingSheet)
	require.Equal(t, ratecard.OfferingHeader, rows[0])
	out := rows[1:]
	for i := range out {
		for len(out[i]) < len(ratecard.OfferingHeader) {
			out[i] = append(out[i], "")
		}
	}
	return out
}

func downloadTemplate(t *testing.T, env *apptest.Env) templateBook {
	t.Helper()
	admin, _ := env.Admin(t)
	res, err := admin.GetRateCardTemplateWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", res.HTTPResponse.Header.Get("Content-Type"))
	require.Equal(t, `attachment; filename=rate-card-template.xlsx`, res.HTTPResponse.Header.Get("Content-Disposition"))
	f, err := excelize.OpenReader(bytes.NewReader(res.Body))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return templateBook{source: res.HTTPResponse.Header.Get("X-Offering-Items-Source"), file: f}
}

func TestRateCardTemplate(t *testing.T) {
	t.Parallel()
	vendor := sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", Seed: 1})
	vsrv := httptest.NewServer(vendor)
	t.Cleanup(vsrv.Close)
	require.NoError(t, vendor.SetSPOfferingItems([]string{"pw_base_storage", "pw_base_workstations", "pw_base_m365_mailboxes", "fc_seats"}))
	cfg := apptest.Config(t)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vsrv.URL, "sp-client", "sp-secret"
	env := apptest.Start(t, cfg)
	book := downloadTemplate(t, env)
	require.Equal(t, ratecard.SourceVendor, book.source)
	require.Equal(t, []string{ratecard.DataSheet, ratecard.NotesSheet, ratecard.OfferingSheet}, book.file.GetSheetList())

	t.Run("data sheet", func(t *testing.T) {
		t.Parallel()
		rows := book.rows(t, ratecard.DataSheet)
		require.Equal(t, [][]string{ratecard.Columns}, rows, "the header row and nothing else")
		panes, err := book.file.GetPanes(ratecard.DataSheet)
		require.NoError(t, err)
		require.True(t, panes.Freeze)
		require.Equal(t, 1, panes.YSplit)
		w, err := book.file.GetColWidth(ratecard.DataSheet, "A")
		require.NoError(t, err)
		require.Greater(t, w, 20.0, "the SKU column is widened")
		style, err := book.file.GetCellStyle(ratecard.DataSheet, "D2")
		require.NoError(t, err)
		st, err := book.file.GetStyle(style)
		require.NoError(t, err)
		require.NotNil(t, st.CustomNumFmt)
		require.Equal(t, "0.00####", *st.CustomNumFmt, "up to 6 places on unit cost")
	})

	t.Run("validations", func(t *testing.T) {
		t.Parallel()
		dvs, err := book.file.GetDataValidations(ratecard.DataSheet)
		require.NoError(t, err)
		type want struct {
			kind, formula1, operator, errorStyle string
		}
		got := map[string]want{}
		for _, dv := range dvs {
			style := ""
			if dv.ErrorStyle != nil {
				style = *dv.ErrorStyle
			}
			got[dv.Sqref] = want{dv.Type, dv.Formula1, dv.Operator, style}
		}
		require.Equal(t, map[string]want{
			"C2:C10001": {"list", `"` + strings.Join(ratecard.Units, ",") + `"`, "", "stop"},
			"E2:E10001": {"list", `"usage,quota"`, "", "stop"},
			"D2:D10001": {"decimal", "0", "greaterThanOrEqual", "stop"},
			"A2:A10001": {"list", "'Offering items'!$A$2:$A$5", "", "information"},
		}, got)
	})

	t.Run("notes", func(t *testing.T) {
		t.Parallel()
		notes := book.notes(t)
		for _, c := range ratecard.Columns {
			require.NotEmpty(t, notes[c], "column %s explained", c)
		}
		require.Contains(t, notes[ratecard.ColUnit], "workstation")
		require.Contains(t, notes["Base currency"], "USD")
		require.Contains(t, notes["Formulas"], "saved value is refused")
		require.Contains(t, notes["Limits"], "10000 rows")
		require.Contains(t, notes["Currency, exchange rate, month, year"], "given with the upload")
		require.Contains(t, notes["Offering items"], "read from the vendor")
	})

	t.Run("offering items from the vendor", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, [][]string{
			{"fc_seats", "quantity", "seat", "File Sync & Share: seats", ""},
			{"pw_base_m365_mailboxes", "quantity", "mailbox", "Cyber Protection: m365 mailboxes", "pck_per_workload"},
			{"pw_base_storage", "bytes", "GB", "Cyber Protection: storage", "pck_per_workload"},
			{"pw_base_workstations", "quantity", "workstation", "Cyber Protection: workstations", "pck_per_workload"},
		}, book.offering(t))
	})

	t.Run("admins only", func(t *testing.T) {
		t.Parallel()
		partnerID := env.NewPartner(t)
		_, partnerToken := env.PartnerUser(t, &partnerID)
		customerID := env.NewCustomer(t, nil)
		_, customerToken := env.CustomerUser(t, &customerID)
		for _, token := range []string{partnerToken, customerToken} {
			res, err := env.Client(t, token).GetRateCardTemplateWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusForbidden, res.StatusCode(), string(res.Body))
		}
		anon, err := env.Client(t, "").GetRateCardTemplateWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, anon.StatusCode())
	})
}

// TestRateCardTemplateWithoutVendor: a vendor that fails, cannot be
// reached or is not configured leaves the template to the items the
// platform knows, and says so; never an error.
func TestRateCardTemplateWithoutVendor(t *testing.T) {
	t.Parallel()
	vendor := sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", Seed: 1})
	vsrv := httptest.NewServer(vendor)
	t.Cleanup(vsrv.Close)
	vendor.SetFault(sim.Fault{Status: http.StatusServiceUnavailable, Rate: 1})
	healthy := httptest.NewServer(sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", Seed: 1}))
	t.Cleanup(healthy.Close)

	tests := []struct {
		name, url, secret, reason string
	}{
		{"vendor answers 503", vsrv.URL, "sp-secret", "HTTP 503"},
		{"wrong credentials", healthy.URL, "wrong", "credentials refused"},
		{"unreachable", "http://127.0.0.1:1", "sp-secret", "unreachable"},
		{"not configured", "", "", "no vendor account is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := apptest.Config(t)
			cfg.DatabaseURL = pgtest.NewDatabase(t, true) // its own usage and plans
			cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = tt.url, "sp-client", tt.secret
			env := apptest.Start(t, cfg)
			require.NoError(t, env.App.DB.Gorm.Exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at) VALUES
				('t1', 'pw_base_storage', '2026-01-01', 1073741824, 'bytes', now()),
				('t1', 'pw_base_storage', '2026-01-02', 2147483648, 'bytes', now()),
				('t2', 'pw_base_servers', '2026-01-01', 3, 'quantity', now())`).Error)

			book := downloadTemplate(t, env)
			require.Equal(t, ratecard.SourcePlatform, book.source)
			require.Equal(t, [][]string{
				{"pw_base_servers", "quantity", "server", "", ""},
				{"pw_base_storage", "bytes", "GB", "", ""},
			}, book.offering(t))
			note := book.notes(t)["Offering items"]
			require.Contains(t, note, "not read from the vendor")
			require.Contains(t, note, tt.reason)
			dvs, err := book.file.GetDataValidations(ratecard.DataSheet)
			require.NoError(t, err)
			require.Len(t, dvs, 4, "the SKU drop-down lists the platform's items")
		})
	}
}
