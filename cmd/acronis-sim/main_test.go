package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunFlags(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(bad, []byte("{not json"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"unreadable state file", []string{"-addr", "127.0.0.1:0", "-state", bad}, "loading state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(tc.args)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
