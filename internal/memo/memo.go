// Package memo keeps, for the length of one piece of work (a dunning
// run), what each of its steps would otherwise read again: settings that
// the work itself never changes (a plan's module settings and templates,
// a venture's name). The cache rides on the context and dies with it, so
// nothing outlives the run; without one in the context every read goes
// to the database.
//
// Invariants: only values read successfully are kept (an error is never
// cached); a value is shared by the run's workers, so callers treat it as
// read-only.
package memo

import (
	"context"
	"sync"
)

type ctxKey struct{}

type cache struct {
	mu sync.Mutex
	m  map[any]any
}

// With returns a context carrying a new, empty cache.
func With(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, &cache{m: map[any]any{}})
}

// Get is the value under key in ctx's cache, loaded (and kept) on the
// first ask; without a cache in ctx it is load's. Keys are comparable
// values of a type of the caller's package, so packages never collide.
func Get[T any](ctx context.Context, key any, load func() (T, error)) (T, error) {
	c, _ := ctx.Value(ctxKey{}).(*cache)
	if c == nil {
		return load()
	}
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		t, _ := v.(T) // a nil interface kept as nil
		return t, nil
	}
	// Two workers may load the same key at once; both get a good value.
	got, err := load()
	if err != nil {
		return got, err
	}
	c.mu.Lock()
	c.m[key] = got
	c.mu.Unlock()
	return got, nil
}
