package page_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

func TestParse(t *testing.T) {
	t.Parallel()
	n := func(i int) *int { return &i }
	s := func(v string) *string { return &v }
	tests := []struct {
		name      string
		limit     *int
		cursor    *string
		wantLimit int
		wantField string
	}{
		{"defaults", nil, nil, 50, ""},
		{"explicit", n(10), s(""), 10, ""},
		{"zero", n(0), nil, 0, "limit"},
		{"too many", n(201), nil, 0, "limit"},
		{"not base64", nil, s("***"), 0, "cursor"},
		{"not json", nil, s("Zm9v"), 0, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := page.Parse(tt.limit, tt.cursor)
			if tt.wantField != "" {
				e := errs.As(err)
				require.NotNil(t, e)
				require.Equal(t, errs.KindInvalid, e.Kind)
				require.Equal(t, tt.wantField, e.Fields[0].Field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantLimit, r.Limit)
		})
	}
}

func TestTrimRoundTripsTheCursor(t *testing.T) {
	t.Parallel()
	type row struct {
		at time.Time
		id uuid.UUID
	}
	rows := []row{{time.Unix(1, 0).UTC(), uuid.New()}, {time.Unix(2, 0).UTC(), uuid.New()}, {time.Unix(3, 0).UTC(), uuid.New()}}
	key := func(r row) page.Key { return page.Key{CreatedAt: r.at, ID: r.id} }
	r := page.Request{Limit: 2}
	got, next := page.Trim(r, rows, key)
	require.Len(t, got, 2)
	require.NotEmpty(t, next)
	parsed, err := page.Parse(nil, &next)
	require.NoError(t, err)
	require.Equal(t, rows[1].id, parsed.After.ID)
	require.True(t, rows[1].at.Equal(parsed.After.CreatedAt))

	got, next = page.Trim(page.Request{Limit: 5}, rows, key)
	require.Len(t, got, 3)
	require.Empty(t, next)
}
