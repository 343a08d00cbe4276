package auth_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/auth"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.Contains(t, h, "$argon2id$")
	require.NotContains(t, h, "correct horse")
	h2, err := auth.HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")

	tests := []struct {
		name     string
		hash     string
		password string
		ok       bool
		wantErr  bool
	}{
		{"right", h, "correct horse battery staple", true, false},
		{"wrong", h, "correct horse battery stapler", false, false},
		{"empty", h, "", false, false},
		{"not argon2id", "$2a$10$abcdefghijklmnopqrstuv", "x", false, true},
		{"garbled", "$argon2id$v=19$m=x$salt$key", "x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := auth.CheckPassword(tt.hash, tt.password)
			require.Equal(t, tt.wantErr, err != nil, err)
			require.Equal(t, tt.ok, ok)
		})
	}
}
