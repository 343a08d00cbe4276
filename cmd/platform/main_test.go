package main

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr bool
		help    bool
	}{
		{"top help", []string{"--help"}, "Commands:", false, false},
		{"no command", nil, "", true, false},
		{"unknown", []string{"frobnicate"}, "", true, false},
		{"serve help", []string{"serve", "--help"}, "Usage: platform serve", true, true},
		{"migrate help", []string{"migrate", "-h"}, "Usage: platform migrate", true, true},
		{"seed help", []string{"seed", "--help"}, "SEED_ADMIN_EMAIL", true, true},
		{"version", []string{"version"}, "platform ", false, false},
		{"stray argument", []string{"version", "extra"}, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(tt.args, &out, &errOut)
			require.Equal(t, tt.wantErr, err != nil, err)
			if tt.help {
				require.ErrorIs(t, err, flag.ErrHelp)
			}
			require.Contains(t, out.String(), tt.wantOut)
		})
	}
}
