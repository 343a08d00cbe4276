package acronis_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
)

func TestUsageReports(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	c := v.client
	avail, err := c.AvailableForChild(ctx, v.sim.SPTenantID(), acronis.KindCustomer, "")
	require.NoError(t, err)
	var storage acronis.OfferingItem
	for _, o := range avail {
		if o.Name == "pw_base_storage" {
			storage = o
		}
	}
	cust := v.customer(t, v.sim.SPTenantID())
	_, err = c.SetOfferingItems(ctx, cust.ID, []acronis.OfferingItem{{ApplicationID: storage.ApplicationID, Name: storage.Name, InfraID: storage.InfraID, Status: 1}})
	require.NoError(t, err)
	v.sim.Advance(48 * time.Hour) // some days of usage

	end := v.sim.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	start := v.sim.Now().AddDate(0, 0, -3).Format(time.DateOnly)
	tests := []struct {
		name  string
		req   acronis.ReportRequest
		daily bool
	}{
		{"summary", acronis.ReportRequest{TenantID: v.sim.SPTenantID(), Level: "all_customers", Kind: acronis.ReportSummary, Start: start, End: end}, false},
		{"daily", acronis.ReportRequest{TenantID: v.sim.SPTenantID(), Level: "all_customers", Kind: acronis.ReportDaily, Start: start, End: end}, true},
		{"current", acronis.ReportRequest{TenantID: v.sim.SPTenantID(), Level: "all_customers", Kind: acronis.ReportCurrent}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Formats = []string{acronis.FormatCSV, acronis.FormatJSON}
			r, err := c.CreateReport(ctx, tt.req)
			require.NoError(t, err)
			require.NotEmpty(t, r.ID)

			stored, err := c.StoredReports(ctx, r.ID)
			require.NoError(t, err)
			require.Len(t, stored, 2)
			v.sim.Advance(5 * time.Second) // generation takes a while
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			csvFile, err := c.WaitReport(wctx, r.ID, acronis.FormatCSV, 10*time.Millisecond)
			require.NoError(t, err)
			jsonFile, err := c.WaitReport(wctx, r.ID, acronis.FormatJSON, 10*time.Millisecond)
			require.NoError(t, err)

			raw, err := c.DownloadReport(ctx, r.ID, csvFile.ID)
			require.NoError(t, err)
			rows, err := acronis.ParseCSV(bytes.NewReader(raw))
			require.NoError(t, err)
			raw, err = c.DownloadReport(ctx, r.ID, jsonFile.ID)
			require.NoError(t, err)
			jrows, err := acronis.ParseJSON(raw)
			require.NoError(t, err)
			require.Equal(t, len(rows), len(jrows), "both formats carry the same rows")

			// Streamed and scanned row by row: the same rows.
			var streamed []acronis.UsageRow
			require.NoError(t, c.StreamReport(ctx, r.ID, csvFile.ID, func(body io.Reader) error {
				return acronis.ScanCSV(body, func(u acronis.UsageRow) error {
					streamed = append(streamed, u)
					return nil
				})
			}))
			require.Equal(t, rows, streamed)
			stop := errors.New("stop")
			calls := len(v.sim.Calls())
			require.ErrorIs(t, c.StreamReport(ctx, r.ID, csvFile.ID, func(io.Reader) error { return stop }), stop)
			require.Len(t, v.sim.Calls(), calls+1, "the reader's error is not retried")
			require.True(t, acronis.IsStatus(c.StreamReport(ctx, r.ID, "nope", func(io.Reader) error { return nil }), http.StatusNotFound))

			days := map[string]bool{}
			mine := 0
			for _, row := range rows {
				if row.TenantID == cust.ID && row.Name == "pw_base_storage" {
					mine++
					days[row.Date] = true
					require.Equal(t, "bytes", row.MeasurementUnit)
				}
			}
			require.Positive(t, mine)
			if tt.daily {
				require.Len(t, days, 3, "one row per day")
			}
			require.NoError(t, c.DeleteReport(ctx, r.ID, r.Version))
		})
	}
}
