package ratelimit_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/ratelimit"
)

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", "2001:db8:1:2::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ratelimit.ClientKey(tt.ip))
		})
	}
}
