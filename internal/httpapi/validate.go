package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	nethttpmw "github.com/oapi-codegen/nethttp-middleware"

	"github.com/acronis-platform/platform/internal/errs"
)

var defineFormats sync.Once

// validator checks every request against the spec before a handler runs.
// Its failures travel as errors to the one error handler.
func validator(spec *openapi3.T) echo.MiddlewareFunc {
	defineFormats.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
		openapi3.DefineStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
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
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := wrapped(next)
		return func(c echo.Context) error {
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

var quoted = regexp.MustCompile(`property "([^"]+)"`)

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
	return out
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
	return errs.FieldError{Field: field, Code: code, Message: msg}
}
