package metadata_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/metadata"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	keys := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name      string
		in        map[string]string
		wantField string // "" when valid
		wantCode  string
	}{
		{"nil", nil, "", ""},
		{"empty", map[string]string{}, "", ""},
		{"20 keys", keys(20), "", ""},
		{"every key character", map[string]string{"Az09_.:-": "v"}, "", ""},
		{"40-character key", map[string]string{strings.Repeat("k", 40): "v"}, "", ""},
		{"500-character value", map[string]string{"k": strings.Repeat("ü", 500)}, "", ""},
		{"21 keys", keys(21), "metadata", metadata.CodeTooManyKeys},
		{"41-character key", map[string]string{strings.Repeat("k", 41): "v"}, "metadata", metadata.CodeKeyInvalid},
		{"empty key", map[string]string{"": "v"}, "metadata", metadata.CodeKeyInvalid},
		{"bracket in key", map[string]string{"a]": "v"}, "metadata", metadata.CodeKeyInvalid},
		{"NUL in key", map[string]string{"a\x00": "v"}, "metadata", metadata.CodeKeyInvalid},
		{"empty value", map[string]string{"k": ""}, "metadata.k", metadata.CodeValueInvalid},
		{"501-character value", map[string]string{"k": strings.Repeat("ü", 501)}, "metadata.k", metadata.CodeValueInvalid},
		{"NUL in value", map[string]string{"k": "a\x00b"}, "metadata.k", metadata.CodeValueInvalid},
		{"invalid UTF-8 in value", map[string]string{"k": "a\xffb"}, "metadata.k", metadata.CodeValueInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := metadata.Check("metadata", tt.in)
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			e := errs.As(err)
			require.NotNil(t, e)
			require.Equal(t, errs.KindInvalid, e.Kind)
			require.Equal(t, tt.wantField, e.Fields[0].Field)
			require.Equal(t, tt.wantCode, e.Fields[0].Code)
		})
	}
}

func TestValueAndScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     metadata.Map
		stored string
	}{
		{"nil stores as an empty object", nil, "{}"},
		{"pairs", metadata.Map{"a": "1", "b": "x\"y"}, `{"a":"1","b":"x\"y"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := tt.in.Value()
			require.NoError(t, err)
			require.Equal(t, tt.stored, v)
			var back metadata.Map
			require.NoError(t, back.Scan([]byte(v.(string))))
			require.Equal(t, tt.in.Clone(), back)
		})
	}
	var m metadata.Map
	require.NoError(t, m.Scan(nil))
	require.NotNil(t, m, "NULL reads as an empty map")
	require.Error(t, m.Scan(42))
}
