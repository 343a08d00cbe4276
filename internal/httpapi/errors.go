package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/postgres"
)

// statusOf is the one mapping from error kinds to HTTP statuses.
var statusOf = map[errs.Kind]int{
	errs.KindInternal:           http.StatusInternalServerError,
	errs.KindInvalid:            http.StatusBadRequest,
	errs.KindUnauthenticated:    http.StatusUnauthorized,
	errs.KindForbidden:          http.StatusForbidden,
	errs.KindNotFound:           http.StatusNotFound,
	errs.KindConflict:           http.StatusConflict,
	errs.KindPreconditionFailed: http.StatusPreconditionFailed,
	errs.KindUnprocessable:      http.StatusUnprocessableEntity,
	errs.KindRateLimited:        http.StatusTooManyRequests,
	errs.KindUnavailable:        http.StatusServiceUnavailable,
	errs.KindMethodNotAllowed:   http.StatusMethodNotAllowed,
	errs.KindTooLarge:           http.StatusRequestEntityTooLarge,
	errs.KindBadGateway:         http.StatusBadGateway,
	errs.KindGone:               http.StatusGone,
	errs.KindNotAcceptable:      http.StatusNotAcceptable,
}

const problemType = "https://docs.acronis-platform.example/problems/"

// errorHandler writes every error as application/problem+json. Internal
// errors are logged with their cause; clients see a generic message.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		e := toError(err)
		if e.Kind == errs.KindInternal {
			if d := postgres.InputError(err); d != nil {
				// Input the services should have refused: answered as the
				// client's fault, logged so the root gets fixed.
				log.Warn("input refused by the database", "request_id", requestID(c), "route", c.Path(), "error", err.Error())
				e = d
			} else if d := postgres.Contention(err); d != nil {
				// Met another request's transaction: the client may send
				// it again; logged, as the lock order is to be fixed.
				log.Warn("request met a concurrent change", "request_id", requestID(c), "route", c.Path(), "error", err.Error())
				e = d
			}
		}
		status := statusOf[e.Kind]
		if e.Kind == errs.KindInternal {
			log.Error("request failed", "request_id", requestID(c), "route", c.Path(), "error", err.Error())
		}
		p := oapi.Problem{
			Type:     problemType + e.Code,
			Title:    http.StatusText(status),
			Status:   status,
			Code:     e.Code,
			Detail:   &e.Message,
			Instance: ptr(requestID(c)),
		}
		if len(e.Fields) > 0 {
			fe := make([]oapi.FieldError, len(e.Fields))
			for i, f := range e.Fields {
				fe[i] = oapi.FieldError{Field: f.Field, Code: f.Code, Message: f.Message}
				if f.Row > 0 {
					fe[i].Row = ptr(f.Row)
				}
				if f.Column != "" {
					fe[i].Column = ptr(f.Column)
				}
			}
			p.Errors = &fe
		}
		h := c.Response().Header()
		switch status {
		case http.StatusUnauthorized:
			h.Set("WWW-Authenticate", `Bearer realm="platform"`)
		case http.StatusTooManyRequests:
			if e.RetryAfter > 0 {
				h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
				h.Set("RateLimit-Reset", strconv.Itoa(e.RetryAfter))
			}
			if e.Limit > 0 {
				h.Set("RateLimit-Limit", strconv.Itoa(e.Limit))
				h.Set("RateLimit-Remaining", "0")
			}
		}
		h.Set(echo.HeaderContentType, "application/problem+json")
		c.Response().WriteHeader(status)
		if c.Request().Method != http.MethodHead {
			_ = json.NewEncoder(c.Response()).Encode(p)
		}
	}
}

var unboundParam = regexp.MustCompile(`^Invalid format for parameter ([^:]+): (.*)$`)

// toError turns any error into a platform error.
func toError(err error) *errs.Error {
	if e := errs.As(err); e != nil {
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return errs.E(errs.KindNotFound, "not_found", "No such resource.")
		case http.StatusMethodNotAllowed:
			return errs.E(errs.KindMethodNotAllowed, "method_not_allowed", "This method is not allowed here.")
		case http.StatusRequestEntityTooLarge:
			return errs.E(errs.KindTooLarge, "body_too_large", "The request body is too large.")
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			// The generated wrapper's word for a parameter it could not
			// bind, such as a query parameter sent twice: named, not the body.
			if m := unboundParam.FindStringSubmatch(fmt.Sprint(he.Message)); m != nil {
				if strings.Contains(m[2], "multiple values") {
					return errs.Invalid(m[1], "duplicate_parameter", "is sent more than once")
				}
				return errs.Invalid(m[1], "invalid_format", m[2])
			}
			return errs.Invalid("body", "malformed", "The request body could not be read.")
		case http.StatusUnauthorized:
			return errs.Unauthenticated("unauthenticated", "Missing or invalid credentials.")
		}
		if he.Code >= 400 && he.Code < 500 {
			return errs.E(errs.KindInvalid, "bad_request", http.StatusText(he.Code))
		}
	}
	return errs.Internal(err)
}

func ptr[T any](v T) *T { return &v }
