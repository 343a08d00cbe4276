package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	other := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	url := env.Server.URL + "/v1/users"
	email := "idem-" + uuid.NewString() + "@example.com"
	body := `{"email":"` + email + `","name":"Idem","password":"long-enough-password","role":"admin"}`
	key := uuid.NewString()

	status, h, first := raw(t, "POST", url, tok, "application/json", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, status, string(first))
	require.Empty(t, h.Get("Idempotent-Replayed"))

	tests := []struct {
		name     string
		token    string
		body     string
		want     int
		code     string
		sameBody bool
	}{
		{"same key and body replays", tok, body, http.StatusCreated, "", true},
		{"same key, other body", tok, `{"email":"x-` + uuid.NewString() + `@example.com","name":"Other","password":"long-enough-password","role":"admin"}`, http.StatusUnprocessableEntity, "idempotency_key_reused", false},
		{"same key, other caller is independent", other, body, http.StatusConflict, "email_taken", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, got := raw(t, "POST", url, tt.token, "application/json", tt.body, "Idempotency-Key", key)
			if tt.code != "" {
				requireProblem(t, status, h, got, tt.want, tt.code)
				return
			}
			require.Equal(t, tt.want, status)
			require.Equal(t, "true", h.Get("Idempotent-Replayed"))
			require.True(t, bytes.Equal(first, got), "replay is byte for byte")
		})
	}
	require.Equal(t, int64(1), usersWithEmail(t, env, email))

	// The stored response is encrypted at rest.
	var leaks int64
	require.NoError(t, env.App.DB.Gorm.Raw(`SELECT count(*) FROM idempotency_keys WHERE position(convert_to(?, 'UTF8') in response_body) > 0`, email).Scan(&leaks).Error)
	require.Zero(t, leaks)
}

func TestIdempotencyConcurrentRequestsHaveOneEffect(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	email := "race-" + uuid.NewString() + "@example.com"
	body := `{"email":"` + email + `","name":"Race","password":"long-enough-password","role":"admin"}`
	key := uuid.NewString()

	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], _, _ = raw(t, "POST", env.Server.URL+"/v1/users", tok, "application/json", body, "Idempotency-Key", key)
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for _, s := range statuses {
		require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, s)
		if s == http.StatusCreated {
			created++
		}
	}
	require.GreaterOrEqual(t, created, 1)
	require.Equal(t, int64(1), usersWithEmail(t, env, email), "exactly one effect")
}

func TestExpiredIdempotencyKeysAreCleanedAndReusable(t *testing.T) {
	t.Parallel()
	// Its own database: the clean-up it runs with a clock two days ahead
	// would otherwise delete other tests' keys.
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	env := apptest.Start(t, cfg)
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	key := uuid.NewString()
	body := func() string {
		return `{"email":"exp-` + uuid.NewString() + `@example.com","name":"E","password":"long-enough-password","role":"admin"}`
	}
	status, _, _ := raw(t, "POST", env.Server.URL+"/v1/users", tok, "application/json", body(), "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, status)

	env.Clock.Advance(25 * time.Hour)
	tok = env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	// A day later the key is forgotten: another body under it is a new request.
	status, _, b := raw(t, "POST", env.Server.URL+"/v1/users", tok, "application/json", body(), "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, status, string(b))

	env.Clock.Advance(25 * time.Hour)
	n, err := env.App.Idempotency.DeleteExpired(context.Background())
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(2))
	var left int64
	require.NoError(t, env.App.DB.Gorm.Raw("SELECT count(*) FROM idempotency_keys WHERE key = ?", key).Scan(&left).Error)
	require.Zero(t, left)
}

func usersWithEmail(t *testing.T, env *apptest.Env, email string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, env.App.DB.Gorm.Raw("SELECT count(*) FROM users WHERE lower(email) = lower(?)", email).Scan(&n).Error)
	return n
}

// A replay repeats the answer's own headers (the version, where to poll),
// not the request's (its id).
func TestIdempotentReplayKeepsHeaders(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	url := env.Server.URL + "/v1/customers"
	body := `{"name":"Replay Ltd","email":"replay-` + uuid.NewString() + `@example.com"}`
	key := uuid.NewString()

	status, first, _ := raw(t, "POST", url, tok, "application/json", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, status)
	require.NotEmpty(t, first.Get("ETag"))

	status, again, _ := raw(t, "POST", url, tok, "application/json", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, "true", again.Get("Idempotent-Replayed"))
	for _, name := range []string{"ETag", "Location"} {
		require.Equal(t, first.Get(name), again.Get(name), name)
	}
	require.NotEqual(t, first.Get("X-Request-Id"), again.Get("X-Request-Id"))
}
