package sim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis/sim"
)

// dailyOf returns one tenant's item per day in a daily report over
// [from, to] days from now.
func (e *env) dailyOf(tenant, item string, from, to int) map[string]int64 {
	e.t.Helper()
	e.tok = e.clientToken()
	_, rows, _ := e.createAndFetch(reportBody(e.sim.SPTenantID(), "all_customers", "usage_daily", []string{day(e, from), day(e, to)}, nil))
	out := map[string]int64{}
	for _, r := range rows {
		if r["tenant.id"] == tenant && r["name"] == item {
			out[r["date"]] = num(e.t, r["usage.absolute.total"])
		}
	}
	require.Len(e.t, out, to-from+1)
	return out
}

// An override applies from its day on; the days before keep theirs, the
// generator's or an earlier override's, and a past "from" revises the
// days from it on.
func TestUsageOverridesKeepHistory(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, fixedClock)
	c := e.mkTenant("History", "customer", e.sim.SPTenantID())["id"].(string)
	const item = "pw_base_workstations"
	e.enable(c, item)
	e.sim.Advance(10 * 24 * time.Hour) // day 10
	e.tok = e.clientToken()
	generated := e.dailyOf(c, item, -10, 0)

	require.NoError(t, e.sim.SetUsage(c, item, 7)) // from day 10
	e.sim.Advance(5 * 24 * time.Hour)              // day 15
	require.NoError(t, e.sim.SetUsage(c, item, 9))
	e.sim.Advance(2 * 24 * time.Hour) // day 17
	got := e.dailyOf(c, item, -17, 0)
	for i := -17; i <= 0; i++ {
		d, want := day(e, i), int64(9)
		switch {
		case i < -7:
			want = generated[d]
		case i < -2:
			want = 7
		}
		require.Equal(t, want, got[d], "day %d (%s)", i, d)
	}
	require.Equal(t, int64(9), e.usages(c)[item], "/usages shows today's")

	// A past "from" (day 12) revises days 12..17; days 10 and 11 keep 7.
	r := e.call("POST", e.srv.URL+"/_sim/usage", map[string]any{"tenant_id": c, "name": item, "value": 4, "from": day(e, -5)})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.raw)
	revised := e.dailyOf(c, item, -17, 0)
	for i := -17; i <= 0; i++ {
		d, want := day(e, i), got[day(e, i)]
		if i >= -5 {
			want = 4
		}
		require.Equal(t, want, revised[d], "day %d (%s)", i, d)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"from in the future", map[string]any{"tenant_id": c, "name": item, "value": 1, "from": day(e, 1)}, http.StatusBadRequest},
		{"from not a date", map[string]any{"tenant_id": c, "name": item, "value": 1, "from": "yesterday"}, http.StatusBadRequest},
		{"from not a string", map[string]any{"tenant_id": c, "name": item, "value": 1, "from": []int{1}}, http.StatusBadRequest},
		{"unknown tenant", map[string]any{"tenant_id": "nope", "name": item, "value": 1, "from": day(e, 0)}, http.StatusNotFound},
		{"today", map[string]any{"tenant_id": c, "name": item, "value": 5, "from": day(e, 0)}, http.StatusNoContent},
	} {
		r := e.call("POST", e.srv.URL+"/_sim/usage", tc.body)
		require.Equal(t, tc.want, r.status, "%s: %s", tc.name, r.raw)
	}
	require.Error(t, e.sim.SetUsageFrom(c, item, e.sim.Now().AddDate(0, 0, 1), 1), "the future is refused")
	final := e.dailyOf(c, item, -17, 0)
	require.Equal(t, int64(5), final[day(e, 0)])
	require.Equal(t, int64(4), final[day(e, -1)], "refused calls changed nothing")
}

// The state file keeps each override's history; a file of the first
// format (a plain value per item) still loads, its value in force from
// the beginning.
func TestStateFileKeepsUsageHistory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.json")
	withFile := func(o *sim.Options) { fixedClock(o); o.StateFile = file }
	const item = "pw_base_workstations"
	a := newEnvWith(t, withFile)
	c := a.mkTenant("Saved", "customer", a.sim.SPTenantID())["id"].(string)
	a.enable(c, item)
	a.sim.Advance(6 * 24 * time.Hour)
	require.NoError(t, a.sim.SetUsageFrom(c, item, a.sim.Now().AddDate(0, 0, -3), 3))
	require.NoError(t, a.sim.SetUsage(c, item, 8))
	want := a.dailyOf(c, item, -6, 0)
	require.Equal(t, int64(3), want[day(a, -3)])
	require.Equal(t, int64(8), want[day(a, 0)])

	b := newEnvWith(t, withFile)
	require.Equal(t, want, b.dailyOf(c, item, -6, 0))

	// The first format: "usage": {"<tenant>/<item>": value}.
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	doc["format"] = 1
	doc["usage"] = map[string]any{c + "/" + item: 6}
	raw, err = json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, raw, 0o600))
	old := newEnvWith(t, withFile)
	got := old.dailyOf(c, item, -6, 0)
	for d, v := range got {
		require.Equal(t, int64(6), v, d)
	}
	// Saved again, it is in the new format and reads back the same.
	require.NoError(t, old.sim.SetUsage(c, item, 2))
	again := newEnvWith(t, withFile)
	got = again.dailyOf(c, item, -6, 0)
	require.Equal(t, int64(2), got[day(again, 0)])
	require.Equal(t, int64(6), got[day(again, -1)])
}
