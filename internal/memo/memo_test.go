package memo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/memo"
)

type key struct{ n int }

func TestGet(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		errs      []error // what each load returns
		wantLoads int
	}{
		{"no cache: every ask loads", context.Background(), []error{nil, nil, nil}, 3},
		{"a cache: loaded once", memo.With(context.Background()), []error{nil, nil, nil}, 1},
		{"an error is not kept", memo.With(context.Background()), []error{boom, nil, nil}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loads := 0
			for i := range 3 {
				got, err := memo.Get(tc.ctx, key{1}, func() (string, error) {
					err := tc.errs[loads]
					loads++
					return fmt.Sprint("v", loads), err
				})
				if tc.errs[0] != nil && i == 0 {
					require.ErrorIs(t, err, boom)
					continue
				}
				require.NoError(t, err)
				require.NotEmpty(t, got)
			}
			require.Equal(t, tc.wantLoads, loads)
		})
	}
}

func TestGetNilInterface(t *testing.T) {
	t.Parallel()
	ctx := memo.With(context.Background())
	loads := 0
	for range 2 {
		got, err := memo.Get(ctx, key{2}, func() (error, error) { loads++; return nil, nil })
		require.NoError(t, err)
		require.Nil(t, got)
	}
	require.Equal(t, 1, loads, "a nil value is kept like any other")
}
