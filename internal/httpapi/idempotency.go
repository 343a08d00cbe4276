package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/idempotency"
)

// idempotent replays the first response of a creating POST retried with the
// same Idempotency-Key, refuses the key with another body (422) or while the
// first request is still running (409).
func idempotent(store *idempotency.Store) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := c.Request().Header.Get("Idempotency-Key")
			if key == "" {
				return next(c)
			}
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err
			}
			c.Request().Body = io.NopCloser(bytes.NewReader(body))
			h := sha256.New()
			h.Write([]byte(c.Request().Method + " " + c.Request().URL.Path + "\n"))
			h.Write(body)
			scope := "public"
			if p, ok := auth.FromContext(c.Request().Context()); ok {
				scope = p.Scope()
			}
			ctx := c.Request().Context()
			saved, err := store.Begin(ctx, scope, key, h.Sum(nil))
			if err != nil {
				return err
			}
			if saved != nil {
				c.Response().Header().Set("Idempotent-Replayed", "true")
				return c.Blob(saved.Status, saved.ContentType, saved.Body)
			}
			rec := &recorder{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			done := false
			defer func() {
				if !done { // a panic: free the key so the retry can run
					_ = store.Release(context.WithoutCancel(ctx), scope, key)
				}
			}()
			if err := next(c); err != nil {
				c.Error(err) // write it now, so it is recorded
			}
			done = true
			status := c.Response().Status
			bg := context.WithoutCancel(ctx)
			if status >= http.StatusInternalServerError {
				return store.Release(bg, scope, key)
			}
			return store.Complete(bg, scope, key, idempotency.Response{
				Status: status, ContentType: c.Response().Header().Get(echo.HeaderContentType), Body: rec.body.Bytes(),
			})
		}
	}
}

// recorder keeps a copy of the response body.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
