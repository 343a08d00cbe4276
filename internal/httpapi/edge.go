package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// headAsGet answers HEAD on every GET route: the request is routed and
// handled as GET (echo routes on the server's own request, so the method is
// changed in place for that time), the body is counted but not sent, and
// the GET's status and headers go out with its Content-Length.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodHead {
			return next(c)
		}
		res := c.Response()
		w := &headWriter{ResponseWriter: res.Writer}
		res.Writer = w
		r.Method = http.MethodGet
		defer func() {
			r.Method = http.MethodHead // net/http then sends no body, whatever it was told
			res.Writer = w.ResponseWriter
			w.finish()
		}()
		return next(c)
	}
}

// headWriter holds the status back until the handler is done, so that the
// length of the body it discards can be announced.
type headWriter struct {
	http.ResponseWriter
	status int
	n      int
}

func (w *headWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *headWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}

// Flush is a no-op: nothing is sent before the handler ends.
func (w *headWriter) Flush() {}

func (w *headWriter) finish() {
	if w.status == 0 {
		return // nothing written: net/http answers 200 as for GET
	}
	h := w.Header()
	if h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" &&
		w.status >= http.StatusOK && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(w.n))
	}
	w.ResponseWriter.WriteHeader(w.status)
}

// CORS is what browser pages of other origins (SPA consoles, storefronts)
// may do. Credentials are never allowed: the API takes bearer tokens, not
// cookies.
type CORS struct {
	// Origins allowed, as browsers send them in Origin; "*" allows any.
	// None: no CORS headers at all.
	Origins []string
	// MaxAge is how long a browser may cache a preflight answer.
	MaxAge time.Duration
}

// corsAllowHeaders are the request headers the API reads.
var corsAllowHeaders = []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-Id"}

// corsExposeHeaders are the response headers the API sets for callers.
var corsExposeHeaders = []string{"ETag", "Content-Disposition", "X-Request-Id", "Idempotent-Replayed", "Retry-After", "Location",
	"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}

// cors answers preflights (204, cached MaxAge) and marks the answers to
// allowed origins; other origins get no CORS headers, so their browsers
// refuse to hand the answers to the page. Nil without origins.
func cors(cfg CORS) echo.MiddlewareFunc {
	if len(cfg.Origins) == 0 {
		return nil
	}
	anyOrigin := slices.Contains(cfg.Origins, "*")
	maxAge := int(cfg.MaxAge / time.Second)
	if maxAge <= 0 {
		maxAge = -1 // echo's "send 0": no caching
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: func(origin string) (bool, error) {
			return anyOrigin || slices.Contains(cfg.Origins, strings.ToLower(origin)), nil
		},
		AllowMethods:     []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowHeaders:     corsAllowHeaders,
		ExposeHeaders:    corsExposeHeaders,
		AllowCredentials: false,
		MaxAge:           maxAge,
	})
}
