package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

// TestLoginCannotLockOutTheOwner: failures are counted per (email, address)
// and per address; a stranger hammering an email is refused, never its
// owner with the right password from another address.
func TestLoginCannotLockOutTheOwner(t *testing.T) {
	t.Parallel()
	const perPair, perIP = 3, 6
	cfg := apptest.Config(t)
	cfg.TrustProxyHeaders = true
	cfg.AuthRateLimit, cfg.AuthRateLimitPerIP = perPair, perIP
	cfg.AuthSlowAfter, cfg.AuthSlowDelay = 4, 5*time.Millisecond
	env := apptest.Start(t, cfg)

	const right, wrong = apptest.Password, "wrong-password-1"
	type step struct {
		ip       string // a name; each test maps it to an address of its own
		email    string // "owner" or "other": a user of the test; else as is
		password string
		times    int
		status   int
		code     string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a stranger over the pair limit is refused, the owner elsewhere gets in", []step{
			{"stranger", "owner", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
			{"stranger", "owner", wrong, 1, http.StatusTooManyRequests, "rate_limited"},
			{"stranger", "owner", right, 1, http.StatusTooManyRequests, "rate_limited"},
			{"owner", "owner", right, 1, http.StatusOK, ""},
			{"owner", "owner", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
		}},
		{"many strangers on one email only slow it down", []step{
			{"stranger", "owner", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
			{"stranger 2", "owner", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
			{"stranger 3", "owner", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
			{"owner", "owner", right, 1, http.StatusOK, ""},
			{"owner", "owner", wrong, 1, http.StatusUnauthorized, "invalid_credentials"},
			{"owner", "owner", right, 1, http.StatusOK, ""},
		}},
		{"an address failing on many emails is refused on every email", []step{
			{"stranger", "a@example.com", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
			{"stranger", "b@example.com", wrong, perIP - perPair, http.StatusUnauthorized, "invalid_credentials"},
			{"stranger", "other", right, 1, http.StatusTooManyRequests, "rate_limited"},
			{"owner", "other", right, 1, http.StatusOK, ""},
		}},
		{"successes are no failures", []step{
			{"owner", "owner", right, perIP + 2, http.StatusOK, ""},
			{"owner", "owner", wrong, perPair, http.StatusUnauthorized, "invalid_credentials"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emails := map[string]string{
				"owner": env.NewUser(t, auth.RoleAdmin, nil, nil).Email,
				"other": env.NewUser(t, auth.RoleAdmin, nil, nil).Email,
			}
			ips := map[string]string{}
			for i, s := range tt.steps {
				if ips[s.ip] == "" {
					ips[s.ip] = clientIP()
				}
				email := s.email
				if e, ok := emails[email]; ok {
					email = e
				} else {
					email = uuid.NewString()[:8] + email
				}
				body := `{"email":"` + email + `","password":"` + s.password + `"}`
				for n := range s.times {
					status, h, b := raw(t, "POST", env.Server.URL+"/v1/auth/token", "", "application/json", body, "X-Forwarded-For", ips[s.ip])
					if s.code == "" {
						require.Equal(t, s.status, status, "step %d, try %d: %s", i+1, n+1, b)
						continue
					}
					requireProblem(t, status, h, b, s.status, s.code)
					if s.status == http.StatusTooManyRequests {
						requireSeconds(t, h.Get("Retry-After"))
						require.Equal(t, "0", h.Get("RateLimit-Remaining"))
					}
				}
			}
		})
	}
}

// TestOldTokensStopWorking: a token issued before its user's password, role
// or scope changed is refused; a new login works. Other changes keep it.
func TestOldTokensStopWorking(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, u uuid.UUID)
		status int
	}{
		{"password changed by an admin", func(t *testing.T, id uuid.UUID) {
			res, err := admin.UpdateUserWithResponse(ctx, id, nil, oapi.UserUpdate{Password: ptr("another-password-123")})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		}, http.StatusUnauthorized},
		{"password set to the same one", func(t *testing.T, id uuid.UUID) {
			res, err := admin.UpdateUserWithResponse(ctx, id, nil, oapi.UserUpdate{Password: ptr(apptest.Password)})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		}, http.StatusUnauthorized},
		{"role changed", func(t *testing.T, id uuid.UUID) {
			require.NoError(t, env.App.DB.Gorm.Exec(`UPDATE users SET role = 'admin', partner_id = NULL WHERE id = ?`, id).Error)
		}, http.StatusUnauthorized},
		{"moved to another partner", func(t *testing.T, id uuid.UUID) {
			require.NoError(t, env.App.DB.Gorm.Exec(`UPDATE users SET partner_id = ? WHERE id = ?`, env.NewPartner(t), id).Error)
		}, http.StatusUnauthorized},
		{"name changed", func(t *testing.T, id uuid.UUID) {
			res, err := admin.UpdateUserWithResponse(ctx, id, nil, oapi.UserUpdate{Name: ptr("Renamed")})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			partnerID := env.NewPartner(t)
			u := env.NewUser(t, auth.RolePartner, &partnerID, nil)
			old := env.Login(t, u)
			me, err := env.Client(t, old).GetMeWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode())

			tt.change(t, u.ID)
			status, h, body := raw(t, "GET", env.Server.URL+"/v1/me", old, "", "")
			if tt.status == http.StatusUnauthorized {
				requireProblem(t, status, h, body, http.StatusUnauthorized, "unauthenticated")
			} else {
				require.Equal(t, tt.status, status, string(body))
			}
			if tt.name == "password changed by an admin" {
				return // the old password no longer logs in
			}
			me, err = env.Client(t, env.Login(t, u)).GetMeWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), "a new login works")
		})
	}
}

// TestSeedingTheAdminAgain: `platform seed` with the same password keeps the
// admin's tokens (make run seeds on every start); another password ends them.
func TestSeedingTheAdminAgain(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tests := []struct {
		name     string
		password string
		status   int
	}{
		{"same password", apptest.Password, http.StatusOK},
		{"another password", "another-password-123", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := env.NewUser(t, auth.RoleAdmin, nil, nil)
			old := env.Login(t, u)
			_, created, err := env.App.Users.SeedAdmin(context.Background(), u.Email, "Admin", tt.password)
			require.NoError(t, err)
			require.False(t, created)
			status, _, body := raw(t, "GET", env.Server.URL+"/v1/me", old, "", "")
			require.Equal(t, tt.status, status, string(body))
		})
	}
}
