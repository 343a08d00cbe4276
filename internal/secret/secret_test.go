package secret_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/secret"
)

func TestBox(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	box, err := secret.New(key)
	require.NoError(t, err)
	sealed, err := box.Seal([]byte("client-secret"), []byte("row-1"))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "client-secret")

	tests := []struct {
		name    string
		sealed  []byte
		context string
		wantErr bool
	}{
		{"same context opens", sealed, "row-1", false},
		{"other context fails", sealed, "row-2", true},
		{"tampered fails", append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), "row-1", true},
		{"too short fails", []byte{1, 2}, "row-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := box.Open(tt.sealed, []byte(tt.context))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "client-secret", string(got))
		})
	}
	_, err = secret.New([]byte("short"))
	require.Error(t, err)
}
