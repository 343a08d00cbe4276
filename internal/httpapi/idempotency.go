package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/idempotency"
	"github.com/acronis-platform/platform/internal/postgres"
)

// idempotent replays the first response of a creating POST retried with the
// same Idempotency-Key, refuses the key with another body (422) or while the
// first request is still running (409).
func idempotent(store *idempotency.Store, log *slog.Logger) echo.MiddlewareFunc {
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
			digestBody(h, c.Request().Header.Get(echo.HeaderContentType), body)
			// Anonymous callers are told apart by address, so two storefronts
			// that pick the same key do not see each other's answers.
			scope := "public:" + c.RealIP()
			if p, ok := auth.FromContext(c.Request().Context()); ok {
				scope = p.Scope()
			}
			ctx := c.Request().Context()
			saved, err := store.Begin(ctx, scope, key, h.Sum(nil))
			if err != nil {
				return err
			}
			if saved != nil {
				h := c.Response().Header()
				for name, v := range saved.Headers {
					h.Set(name, v)
				}
				h.Set("Idempotent-Replayed", "true")
				return c.Blob(saved.Status, saved.ContentType, saved.Body)
			}
			// The response is held back until it is stored, so a client that
			// retries the moment it reads the answer gets the replay, not a 409.
			orig := c.Response().Writer
			rec := &recorder{ResponseWriter: orig}
			c.Response().Writer = rec
			done := false
			defer func() {
				c.Response().Writer = orig
				if !done { // a panic: free the key so the retry can run
					_ = store.Release(context.WithoutCancel(ctx), scope, key)
				}
			}()
			// A request that met a concurrent change changed nothing and is
			// to be sent again: its key is freed, not its 409 replayed.
			again := false
			if err := next(c); err != nil {
				again = toError(err).Kind == errs.KindInternal && postgres.Contention(err) != nil
				c.Error(err) // write it now, so it is recorded
			}
			done = true
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			bg := context.WithoutCancel(ctx)
			var serr error
			if status >= http.StatusInternalServerError || again {
				serr = store.Release(bg, scope, key)
			} else {
				kept := map[string]string{}
				for _, name := range idempotency.Replayed {
					if v := c.Response().Header().Get(name); v != "" {
						kept[name] = v
					}
				}
				serr = store.Complete(bg, scope, key, idempotency.Response{
					Status: status, ContentType: c.Response().Header().Get(echo.HeaderContentType), Body: rec.body.Bytes(), Headers: kept,
				})
			}
			if serr != nil {
				log.Error("idempotency record not stored", "request_id", requestID(c), "error", serr.Error())
			}
			orig.WriteHeader(status)
			_, _ = orig.Write(rec.body.Bytes())
			return nil
		}
	}
}

// recorder holds the response back: status and body are kept, the
// headers go to the real writer's map.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// digestBody feeds the body to h. A multipart form's boundary is chosen
// anew by each client send, so a retry's parts (names, file names, types
// and contents) are what is compared, not its bytes.
func digestBody(h hash.Hash, contentType string, body []byte) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		h.Write(body)
		return
	}
	var sum bytes.Buffer
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			h.Write(body) // not a form after all: the bytes as sent
			return
		}
		content, err := io.ReadAll(part)
		if err != nil {
			h.Write(body)
			return
		}
		for _, v := range []string{part.FormName(), part.FileName(), part.Header.Get("Content-Type"), string(content)} {
			fmt.Fprintf(&sum, "%d:", len(v))
			sum.WriteString(v)
		}
	}
	h.Write(sum.Bytes())
}
