package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	nethttpmw "github.com/oapi-codegen/nethttp-middleware"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
)

var defineFormats sync.Once

// validator checks every request against the spec before a handler runs.
// Its failures travel as errors to the one error handler.
func validator(spec *openapi3.T) echo.MiddlewareFunc {
	defineFormats.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
		openapi3.DefineStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
		openapi3.DefineStringFormatValidator("date", datesInRange(openapi3.FormatOfStringDate))
		openapi3.DefineStringFormatValidator("date-time", datesInRange(openapi3.FormatOfStringDateTime))
	})
	spec.Servers = nil // match on path only, whatever host serves us
	mw := nethttpmw.OapiRequestValidatorWithOptions(spec, &nethttpmw.Options{
		Options: openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // done by authenticate
		},
		SilenceServersWarning: true,
		DoNotValidateServers:  true,
		ErrorHandlerWithOpts: func(ctx context.Context, err error, w http.ResponseWriter, r *http.Request, _ nethttpmw.ErrorHandlerOpts) {
			// Hand the error back to echo through the request's slot.
			if slot, ok := ctx.Value(validationSlot{}).(*error); ok {
				*slot = validationError(err)
			}
		},
	})
	wrapped := echo.WrapMiddleware(mw)
	headers := headerParams(spec)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := wrapped(next)
		return func(c echo.Context) error {
			if err := checkInput(c, headers); err != nil {
				return err
			}
			var verr error
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), validationSlot{}, &verr)))
			err := h(c)
			if verr != nil {
				return verr
			}
			return err
		}
	}
}

type validationSlot struct{}

// errDateOutOfRange marks a well-formed date outside [clock.Epoch,
// clock.Horizon): a 422 date_out_of_range, not a malformed one.
var errDateOutOfRange = errors.New("date out of range")

// datesInRange checks a date or date-time's form (pattern, a day its month
// has) and that its day is within the platform's range. Every date and
// date-time in a request body or query goes through it.
func datesInRange(pattern string) openapi3.StringFormatValidator {
	re := openapi3.NewRegexpFormatValidator(pattern)
	return openapi3.NewCallbackValidator(func(v string) error {
		if err := re.Validate(v); err != nil {
			return err
		}
		d, err := time.Parse(time.DateOnly, v[:len(time.DateOnly)])
		if err != nil {
			return err
		}
		if d.Before(clock.Epoch) || !d.Before(clock.Horizon) {
			return fmt.Errorf("%w: must be from %s and before %s", errDateOutOfRange,
				clock.Epoch.Format(time.DateOnly), clock.Horizon.Format(time.DateOnly))
		}
		return nil
	})
}

// headerParams are the request headers the spec declares; they reach
// handlers (and Idempotency-Key the database), so their text is checked.
func headerParams(spec *openapi3.T) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ps openapi3.Parameters) {
		for _, p := range ps {
			if p.Value != nil && p.Value.In == "header" && !seen[p.Value.Name] {
				seen[p.Value.Name] = true
				out = append(out, p.Value.Name)
			}
		}
	}
	for _, item := range spec.Paths.Map() {
		add(item.Parameters)
		for _, op := range item.Operations() {
			add(op.Parameters)
		}
	}
	return out
}

var (
	quoted = regexp.MustCompile(`property "([^"]+)"`)
	// undefinedPart is the multipart decoder's word for a part the form's
	// schema does not have.
	undefinedPart = regexp.MustCompile(`^part (.*): undefined$`)
)

// validationError names each field at fault.
func validationError(err error) *errs.Error {
	out := &errs.Error{Kind: errs.KindInvalid, Code: "validation_failed", Message: "The request is not valid."}
	var walk func(error, string)
	walk = func(err error, field string) {
		// Concrete types first: a RequestError unwraps to its inner errors,
		// and errors.As would skip the parameter it names.
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner, field)
			}
			return
		case *openapi3filter.RequestError:
			switch {
			case e.Parameter != nil:
				field = e.Parameter.Name
			case e.RequestBody != nil && field == "":
				field = "body"
			}
			if e.Err == nil {
				code, msg := "invalid", e.Reason
				if strings.Contains(msg, "Content-Type") {
					field, code, msg = "Content-Type", "unsupported_media_type", "send application/json"
				}
				out.Fields = append(out.Fields, errs.FieldError{Field: field, Code: code, Message: msg})
				return
			}
			walk(e.Err, field)
			return
		}
		var pe *openapi3filter.ParseError
		if errors.As(err, &pe) {
			code := "invalid_format"
			if path := pe.Path(); field == "body" && len(path) > 0 {
				// A form part (multipart/form-data) that is not of its
				// type: named by the part, as a schema error would be.
				out.Fields = append(out.Fields, errs.FieldError{Field: fmt.Sprint(path[0]), Code: "invalid_type", Message: parseMessage(pe)})
				return
			}
			if m := undefinedPart.FindStringSubmatch(parseMessage(pe)); field == "body" && m != nil {
				// A form part the schema does not name: no JSON about it.
				out.Fields = append(out.Fields, errs.FieldError{Field: m[1], Code: "unknown_field", Message: "is not a field of this form"})
				return
			}
			if field == "body" {
				out.Code, out.Message = "malformed_json", "The request body is not valid JSON."
				code = "malformed_json"
			}
			out.Fields = append(out.Fields, errs.FieldError{Field: field, Code: code, Message: pe.Error()})
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			out.Fields = append(out.Fields, schemaField(se, field))
			return
		}
		switch {
		case errors.Is(err, openapi3filter.ErrInvalidRequired):
			out.Fields = append(out.Fields, errs.FieldError{Field: field, Code: "required", Message: "is required"})
		case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
			out.Fields = append(out.Fields, errs.FieldError{Field: field, Code: "required", Message: "must not be empty"})
		default:
			msg := err.Error()
			code := "invalid"
			if strings.Contains(msg, "Content-Type") {
				field, code, msg = "Content-Type", "unsupported_media_type", "send application/json"
			}
			out.Fields = append(out.Fields, errs.FieldError{Field: field, Code: code, Message: msg})
		}
	}
	walk(err, "")
	if len(out.Fields) == 0 {
		out.Fields = []errs.FieldError{{Field: "body", Code: "invalid", Message: "the request does not match the API"}}
	}
	// A well-formed date outside the platform's range is a domain rule
	// (422), unless something else in the request is malformed too.
	if !slices.ContainsFunc(out.Fields, func(f errs.FieldError) bool { return f.Code != "date_out_of_range" }) {
		out.Kind, out.Code, out.Message = errs.KindUnprocessable, "date_out_of_range", "A date is outside the range the platform accepts."
	}
	return out
}

// parseMessage is what a parse error says at its root: the innermost
// cause, or the error itself when the innermost has none (a part of a
// type the decoder does not read).
func parseMessage(pe *openapi3filter.ParseError) string {
	if c := pe.RootCause(); c != nil {
		return c.Error()
	}
	return pe.Error()
}

// schemaField turns a schema violation into a dotted field and a code.
func schemaField(se *openapi3.SchemaError, base string) errs.FieldError {
	path := se.JSONPointer()
	field := strings.Join(path, ".")
	if base != "body" && base != "" {
		field = strings.TrimPrefix(base+"."+field, ".")
		if len(path) == 0 {
			field = base
		}
	}
	code := "invalid"
	switch se.SchemaField {
	case "required":
		code = "required"
	case "properties", "additionalProperties":
		code = "unknown_field"
		if m := quoted.FindStringSubmatch(se.Reason); m != nil {
			field = strings.TrimPrefix(field+"."+m[1], ".")
		}
	case "type", "nullable":
		code = "invalid_type"
	case "enum":
		code = "invalid_enum"
	case "format":
		code = "invalid_format"
		if errors.Is(se.Origin, errDateOutOfRange) {
			code = "date_out_of_range"
		}
	case "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "minProperties", "maxProperties":
		code = "out_of_range"
	case "pattern":
		code = "invalid_format"
	}
	// A schema may name its own codes per keyword (x-error-codes), as
	// Metadata does, so that the spec and the service answer alike.
	if se.Schema != nil {
		if codes, ok := se.Schema.Extensions["x-error-codes"].(map[string]any); ok {
			if c, ok := codes[se.SchemaField].(string); ok {
				code = c
			}
		}
	}
	if field == "" {
		field = "body"
	}
	msg, _, _ := strings.Cut(se.Reason, " (string doesn't match pattern")
	if code == "date_out_of_range" {
		msg = "must be from " + clock.Epoch.Format(time.DateOnly) + " and before " + clock.Horizon.Format(time.DateOnly)
	}
	return errs.FieldError{Field: field, Code: code, Message: msg}
}
