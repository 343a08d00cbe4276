package acronis

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func TestParseCSV(t *testing.T) {
	t.Parallel()
	header := "date,tenant.id,tenant.name,tenant.kind,tenant.parent_id,application.id,name,edition,usage_name,measurement_unit,infra.id,usage.absolute.total,usage.absolute.production,usage.absolute.trial,usage.delta.total,usage.delta.production,usage.delta.trial,usage.effective.total,usage.effective.production,usage.effective.trial\n"
	tests := []struct {
		name    string
		body    string
		rows    int
		wantErr string
	}{
		{"one row", header + "2026-11-01,t1,\"Acme, Inc\",customer,p1,app,pw_base_storage,pck_per_workload,storage,bytes,i1,1073741824,1073741824,0,10,10,0,1073741824,1073741824,0\n", 1, ""},
		{"edition defaults to standard", header + "2026-11-01,t1,A,customer,p1,app,storage,,storage,bytes,,5,5,0,0,0,0,5,5,0\n", 1, ""},
		{"empty report", header, 0, ""},
		{"fractional amounts", header + "2026-11-01,t1,A,customer,p1,app,compute_points,,compute_points,seconds,,1.25,1.25,0,0,0,0,1.25,1.25,0\n", 1, ""},
		{"missing required column", "date,tenant.id\n2026-11-01,t1\n", 0, "lacks column"},
		{"missing tenant id", header + "2026-11-01,,A,customer,p1,app,storage,,storage,bytes,,5,5,0,0,0,0,5,5,0\n", 0, "required"},
		{"bad number", header + "2026-11-01,t1,A,customer,p1,app,storage,,storage,bytes,,five,5,0,0,0,0,5,5,0\n", 0, "usage.absolute.total"},
		{"empty file", "", 0, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := ParseCSV(strings.NewReader(tt.body))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, rows, tt.rows)
		})
	}
	rows, err := ParseCSV(strings.NewReader(tests[0].body))
	require.NoError(t, err)
	require.Equal(t, "Acme, Inc", rows[0].TenantName)
	require.True(t, rows[0].Absolute.Total.Equal(decimal.NewFromInt(1<<30)))
	require.True(t, rows[0].Delta.Production.Equal(decimal.NewFromInt(10)))
	rows, err = ParseCSV(strings.NewReader(tests[1].body))
	require.NoError(t, err)
	require.Equal(t, "standard", rows[0].Edition)
}

// ScanCSV hands the rows over one by one, the same as ParseCSV's; an
// error from the callback stops the scan.
func TestScanCSV(t *testing.T) {
	t.Parallel()
	header := "date,tenant.id,application.id,name,measurement_unit,usage.absolute.total\n"
	body := header + "2026-11-01,t1,app,a,quantity,1\n2026-11-02,t1,app,a,quantity,2\n2026-11-03,t2,app,b,bytes,3\n"
	var seen []UsageRow
	require.NoError(t, ScanCSV(strings.NewReader(body), func(u UsageRow) error {
		seen = append(seen, u)
		return nil
	}))
	all, err := ParseCSV(strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, all, seen)
	require.Len(t, seen, 3)
	require.Equal(t, "2026-11-02", seen[1].Date)
	require.Equal(t, "t2", seen[2].TenantID, "rows do not share storage")

	stop := errors.New("enough")
	n := 0
	err = ScanCSV(strings.NewReader(body), func(UsageRow) error {
		n++
		return stop
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
	require.ErrorContains(t, ScanCSV(strings.NewReader("date\n"), func(UsageRow) error { return nil }), "lacks column")
}

func TestParseJSON(t *testing.T) {
	t.Parallel()
	doc := `{"params":{"kind":"usage_summary"},"tenants":[{"id":"t1","name":"A","kind":"customer","parent_id":"p1","usages":[{"date":"2026-11-30","application_id":"app","name":"pw_base_storage","edition":"pck_per_workload","usage_name":"storage","measurement_unit":"bytes","infra_id":"i1","absolute":{"total":100,"production":100,"trial":0},"delta":{"total":10,"production":10,"trial":0},"effective":{"total":100,"production":100,"trial":0}},{"date":"2026-11-30","application_id":"app","name":"notarizations","edition":null,"usage_name":"notarizations","measurement_unit":"quantity","infra_id":null,"absolute":{"total":3,"production":3,"trial":0},"delta":{"total":1,"production":1,"trial":0},"effective":{"total":3,"production":3,"trial":0}}]}]}`
	rows, err := ParseJSON([]byte(doc))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, "t1", rows[0].TenantID)
	require.Equal(t, "i1", rows[0].InfraID)
	require.True(t, rows[0].Absolute.Total.Equal(decimal.NewFromInt(100)))
	require.Equal(t, "standard", rows[1].Edition)
	_, err = ParseJSON([]byte(`{"tenants":[`))
	require.Error(t, err)
}
