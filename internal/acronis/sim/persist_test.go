package sim_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis/sim"
)

func TestStateFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.json")
	withFile := func(o *sim.Options) { fixedClock(o); o.StateFile = file }

	a := newEnvWith(t, withFile)
	_, err := os.Stat(file)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written before a change")
	sp := a.sim.SPTenantID()
	c := a.mkTenant("Persisted", "customer", sp)
	cid := c["id"].(string)
	a.enable(cid, "pw_base_storage")
	require.Equal(t, http.StatusNoContent, a.call("POST", a.srv.URL+"/_sim/usage",
		map[string]any{"tenant_id": cid, "name": "pw_base_storage", "value": 4096}).status)
	a.sim.Advance(36 * time.Hour)
	a.tok = a.clientToken()
	rep := a.as("POST", "/reports", reportBody(sp, "all_customers", "usage_current", nil, nil)).json(t)
	entries, err := os.ReadDir(filepath.Dir(file))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file is renamed over the state file")

	// A second server from the same file: same ids, tenant, override, report and clock.
	b := newEnvWith(t, withFile)
	require.Equal(t, sp, b.sim.SPTenantID())
	require.Equal(t, a.sim.Now(), b.sim.Now())
	got := b.as("GET", "/tenants/"+cid, nil)
	require.Equal(t, http.StatusOK, got.status, "%s", got.raw)
	require.Equal(t, "Persisted", got.json(t)["name"])
	require.Equal(t, map[string]int64{"pw_base_storage": 4096}, b.usages(cid))
	require.Equal(t, []any{rep["id"]}, b.as("GET", "/tenants/"+sp+"/reports", nil).json(t)["items"])
	b.sim.Advance(2 * time.Second)
	stored := b.as("GET", "/reports/"+rep["id"].(string)+"/stored", nil).json(t)["items"].([]any)[0].(map[string]any)
	require.Equal(t, "saved", stored["status"])
	raw := b.download(rep["id"].(string), stored["id"].(string), int(stored["size"].(float64)))
	rows := parseCSV(t, raw)
	require.Len(t, rows, 1)
	require.Equal(t, "4096", rows[0]["usage.absolute.total"])

	// Tokens are not persisted.
	r := b.call("GET", "/tenants/"+cid, nil, "Authorization", "Bearer "+a.tok)
	require.Equal(t, http.StatusUnauthorized, r.status)

	// Reset is a change too.
	require.Equal(t, http.StatusNoContent, b.call("POST", b.srv.URL+"/_sim/reset", "").status)
	cnew := newEnvWith(t, withFile)
	require.Equal(t, http.StatusNotFound, cnew.as("GET", "/tenants/"+cid, nil).status)
	require.Equal(t, sp, cnew.sim.SPTenantID())
}

func TestStateFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		ok      bool
	}{
		{"empty file starts afresh", "", true},
		{"corrupt", "{not json", false},
		{"wrong format", `{"format":99}`, false},
		{"no seeded ids", `{"format":1}`, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(dir, "s"+string(rune('a'+i))+".json")
			require.NoError(t, os.WriteFile(file, []byte(tc.content), 0o600))
			opts := sim.Options{StateFile: file}
			_, err := sim.Open(opts)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Panics(t, func() { sim.New(opts) })
		})
	}
}
