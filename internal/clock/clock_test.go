package clock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/clock"
)

func TestManual(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 31, 23, 0, 0, 0, time.FixedZone("x", 3600))
	c := clock.NewManual(start)
	require.Equal(t, time.UTC, c.Now().Location())
	require.True(t, c.Now().Equal(start))
	c.Advance(2 * time.Hour)
	require.True(t, c.Now().Equal(start.Add(2*time.Hour)))
	c.Set(start)
	require.True(t, c.Now().Equal(start))
}

func TestRealIsUTC(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.UTC, clock.Real{}.Now().Location())
}
