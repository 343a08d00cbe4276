package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// The Go SDK (api/oapi) is usable from another module: a storefront module
// of its own requires the platform, builds testdata/sdkshop against it and
// runs its order flow against a running platform.
func TestGoSDKFromAnotherModule(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a module of its own")
	}
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	root, err := filepath.Abs("../..")
	require.NoError(t, err)

	// The other module: go mod init example.com/shop, then require the
	// platform, replaced by this checkout (go get would fetch it).
	mod := t.TempDir()
	program, err := os.ReadFile("testdata/sdkshop/main.go")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mod, "main.go"), program, 0o600))
	sums, err := os.ReadFile(filepath.Join(root, "go.sum")) // the same dependencies: no download when cached
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.sum"), sums, 0o600))
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	goCmd("mod", "init", "example.com/shop")
	goCmd("mod", "edit", "-require=github.com/acronis-platform/platform@v0.0.0", "-replace=github.com/acronis-platform/platform="+root)
	goCmd("mod", "tidy")
	bin := filepath.Join(mod, "shop")
	goCmd("build", "-o", bin, ".")

	s := newShop(t)
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})

	tests := []struct {
		name      string
		offer     string
		wantErr   string // on stderr, with exit status 1
		wantPrice string
	}{
		{"an order to its login", token, "", "10.00 USD"},
		{"an unknown offer", strings.Repeat("x", 32), "read the offer: 404 not_found", ""},
		{"a malformed offer token", "short", "read the offer: 400 validation_failed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			username := newLogin()
			cmd := exec.Command(bin, "-url", s.env.Server.URL, "-offer", tt.offer, "-username", username)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tt.wantErr != "" {
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit)
				require.Equal(t, 1, exit.ExitCode())
				require.Contains(t, stderr.String(), tt.wantErr)
				return
			}
			require.NoError(t, err, stderr.String())
			var got struct {
				OrderID      string `json:"order_id"`
				Status       string `json:"status"`
				UnitPrice    string `json:"unit_price"`
				PortalURL    string `json:"portal_url"`
				Username     string `json:"username"`
				Instructions string `json:"instructions"`
				PasswordSeen bool   `json:"password_seen"`
			}
			require.NoError(t, json.NewDecoder(&stdout).Decode(&got))
			require.Equal(t, "completed", got.Status)
			require.Equal(t, tt.wantPrice, got.UnitPrice)
			require.Equal(t, s.vendor.URL, got.PortalURL)
			require.Equal(t, username, got.Username)
			require.Contains(t, got.Instructions, username)
			require.True(t, got.PasswordSeen, "the buyer's first read carries the password")

			res, err := s.admin.GetOrderWithResponse(t.Context(), uuid.MustParse(got.OrderID))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode())
			require.Equal(t, username, res.JSON200.Username, "the order the program placed is the platform's")
		})
	}
}
