package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/config"
)

func load(env map[string]string, withSecrets bool) (config.Config, error) {
	return config.Load(func(k string) string { return env[k] }, withSecrets)
}

func base() map[string]string {
	return map[string]string{
		"DATABASE_URL":   "postgres://localhost/platform",
		"JWT_SECRET":     strings.Repeat("s", 40),
		"ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(base(), true)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.ListenAddr)
	require.Equal(t, 15*time.Minute, cfg.JWTTTL)
	require.Equal(t, 10, cfg.AuthRateLimit)
	require.Equal(t, "127.0.0.1:9090", cfg.MetricsAddr, "metrics on loopback only")
	require.False(t, cfg.VendorAllowPrivate)
	off := base()
	off["METRICS_ADDR"] = "off"
	cfg, err = load(off, true)
	require.NoError(t, err)
	require.Equal(t, "off", cfg.MetricsAddr)
	require.Len(t, cfg.EncryptionKeyBytes(), 32)
}

func TestBadValuesAreNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		set         map[string]string
		withSecrets bool
		wantInError string
	}{
		{"no database", map[string]string{"DATABASE_URL": ""}, false, "DATABASE_URL"},
		{"database not postgres", map[string]string{"DATABASE_URL": "mysql://x"}, false, "DATABASE_URL"},
		{"bad duration", map[string]string{"JWT_TTL": "forever"}, false, "JWT_TTL: not a duration"},
		{"ttl too long", map[string]string{"JWT_TTL": "48h"}, false, "JWT_TTL"},
		{"bad integer", map[string]string{"DB_MAX_CONNS": "many"}, false, "DB_MAX_CONNS: not an integer"},
		{"bad boolean", map[string]string{"DEMO_SECRETS": "maybe"}, false, "DEMO_SECRETS: not a boolean"},
		{"bad env", map[string]string{"ENV": "staging"}, false, "ENV"},
		{"bad listen addr", map[string]string{"LISTEN_ADDR": "eight-thousand"}, false, "LISTEN_ADDR"},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, false, "LOG_LEVEL"},
		{"jwks without issuer", map[string]string{"JWKS_URL": "https://idp.example/jwks"}, false, "JWKS_ISSUER"},
		{"short jwt secret", map[string]string{"JWT_SECRET": "short"}, true, "JWT_SECRET"},
		{"missing jwt secret", map[string]string{"JWT_SECRET": ""}, true, "JWT_SECRET: required"},
		{"missing encryption key", map[string]string{"ENCRYPTION_KEY": ""}, true, "ENCRYPTION_KEY: required"},
		{"encryption key wrong size", map[string]string{"ENCRYPTION_KEY": "c2hvcnQ="}, true, "ENCRYPTION_KEY: must be base64 of exactly 32 bytes"},
		{"demo secrets in production", map[string]string{"ENV": "production", "DEMO_SECRETS": "true"}, true, "DEMO_SECRETS: must not be true when ENV=production"},
		{"demo jwt secret in production", map[string]string{"ENV": "production", "JWT_SECRET": config.DemoJWTSecret}, true, "JWT_SECRET: the demo secret is refused"},
		{"demo key in production", map[string]string{"ENV": "production", "ENCRYPTION_KEY": config.DemoEncryptionKey}, true, "ENCRYPTION_KEY: the demo key is refused"},
		{"sandbox in production", map[string]string{"ENV": "production", "SANDBOX": "true"}, false, "SANDBOX: not allowed with ENV=production"},
		{"unknown time zone", map[string]string{"TIME_ZONE": "Mars/Olympus"}, false, "TIME_ZONE"},
		{"negative invoice days", map[string]string{"INVOICE_DAYS_BEFORE_DUE": "-1"}, false, "INVOICE_DAYS_BEFORE_DUE"},
		{"bad metrics addr", map[string]string{"METRICS_ADDR": "nine-thousand"}, false, "METRICS_ADDR"},
		{"short metrics token", map[string]string{"METRICS_TOKEN": "short"}, false, "METRICS_TOKEN"},
		{"zero anonymous limit", map[string]string{"ANON_RATE_LIMIT_PER_MINUTE": "0"}, false, "ANON_RATE_LIMIT_PER_MINUTE"},
		{"slow delay too long", map[string]string{"AUTH_SLOW_DELAY": "1m"}, false, "AUTH_SLOW_DELAY"},
		{"mail workers take the whole pool", map[string]string{"DB_MAX_CONNS": "10", "MAIL_WORKERS": "10"}, false, "MAIL_WORKERS"},
		{"no webhook workers", map[string]string{"WEBHOOK_WORKERS": "0"}, false, "WEBHOOK_WORKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := base()
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := load(env, tt.withSecrets)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantInError)
		})
	}
}

func TestSecretsAreNotPrinted(t *testing.T) {
	t.Parallel()
	env := base()
	env["JWT_SECRET"] = "tiny-secret-value"
	_, err := load(env, true)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "tiny-secret-value")
}

func TestDemoSecretsFillOnlyWhatIsUnset(t *testing.T) {
	t.Parallel()
	cfg, err := load(map[string]string{"DATABASE_URL": "postgres://x/y", "DEMO_SECRETS": "true"}, true)
	require.NoError(t, err)
	require.Equal(t, config.DemoJWTSecret, cfg.JWTSecret)
	require.Len(t, cfg.EncryptionKeyBytes(), 32)
}

func TestDocsCoverEveryVariable(t *testing.T) {
	t.Parallel()
	for _, d := range config.Docs() {
		require.NotEmpty(t, d.Name)
		require.NotEmpty(t, d.Meaning, d.Name)
	}
}

func TestREADMEListsEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, d := range config.Docs() {
		require.Contains(t, string(b), "| `"+d.Name+"` |", "README configuration table misses %s", d.Name)
	}
}

func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		want    []string
		wantErr string
	}{
		{"unset", "", nil, ""},
		{"one", "https://console.example.com", []string{"https://console.example.com"}, ""},
		{"list with spaces, case and a port", " https://Console.Example.com , http://localhost:5173/ ", []string{"https://console.example.com", "http://localhost:5173"}, ""},
		{"any", "*", []string{"*"}, ""},
		{"no scheme", "console.example.com", nil, "CORS_ALLOWED_ORIGINS"},
		{"a path", "https://console.example.com/app", nil, "CORS_ALLOWED_ORIGINS"},
		{"another scheme", "ftp://console.example.com", nil, "CORS_ALLOWED_ORIGINS"},
		{"a wildcard host", "https://*.example.com", nil, "CORS_ALLOWED_ORIGINS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := base()
			env["CORS_ALLOWED_ORIGINS"] = tt.value
			cfg, err := load(env, true)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.CORSOrigins())
			require.Equal(t, time.Hour, cfg.CORSMaxAge)
		})
	}
}
