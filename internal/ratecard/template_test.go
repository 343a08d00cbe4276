package ratecard_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/ratecard"
)

// TestTemplateXLSX reads workbooks back: the offering items as given
// (names with quotes and ampersands too), the SKU drop-down only when
// there are items to list, the source in the notes.
func TestTemplateXLSX(t *testing.T) {
	t.Parallel()
	made := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	tests := []struct {
		name        string
		tpl         ratecard.Template
		validations int
		note        string
	}{
		{"vendor items", ratecard.Template{BaseCurrency: "EUR", Source: ratecard.SourceVendor, Made: made,
			Items: []ratecard.TemplateItem{{Name: `odd "name" & <more>`, MeasurementUnit: "quantity", Unit: "unit"}}},
			4, "read from the vendor on 2026-03-04 05:06 UTC"},
		{"no items known", ratecard.Template{BaseCurrency: "EUR", Source: ratecard.SourcePlatform, Made: made,
			Reason: "no vendor account is configured (ACRONIS_URL)"}, 3, "not read from the vendor: no vendor account is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := tt.tpl.XLSX()
			require.NoError(t, err)
			f, err := excelize.OpenReader(bytes.NewReader(data))
			require.NoError(t, err)
			defer func() { _ = f.Close() }()
			rows, err := f.GetRows(ratecard.OfferingSheet)
			require.NoError(t, err)
			require.Len(t, rows, len(tt.tpl.Items)+1)
			for i, it := range tt.tpl.Items {
				require.Equal(t, it.Name, rows[i+1][0])
			}
			dvs, err := f.GetDataValidations(ratecard.DataSheet)
			require.NoError(t, err)
			require.Len(t, dvs, tt.validations)
			notes, err := f.GetRows(ratecard.NotesSheet)
			require.NoError(t, err)
			last := notes[len(notes)-1]
			require.Equal(t, "Offering items", last[0])
			require.Contains(t, last[1], tt.note)
			byTopic := map[string]string{}
			for _, r := range notes[1:] {
				byTopic[r[0]] = r[1]
			}
			require.Contains(t, byTopic["Base currency"], "EUR")
		})
	}
}
