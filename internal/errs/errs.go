// Package errs holds the platform's error values. Services return them with a
// stable code; the HTTP layer maps each Kind to a status in one place.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error; each maps to one HTTP status.
type Kind int

const (
	KindInternal           Kind = iota // 500
	KindInvalid                        // 400 malformed or schema-invalid
	KindUnauthenticated                // 401
	KindForbidden                      // 403
	KindNotFound                       // 404 (also "not yours")
	KindConflict                       // 409 state conflict
	KindPreconditionFailed             // 412 version mismatch
	KindUnprocessable                  // 422 domain rule broken
	KindRateLimited                    // 429
	KindUnavailable                    // 503
	KindMethodNotAllowed               // 405
	KindTooLarge                       // 413
	KindBadGateway                     // 502 an upstream (the vendor) failed
	KindGone                           // 410 existed, no longer offered
	KindNotAcceptable                  // 406 Accept allows no media type the operation answers in
)

// FieldError names one field at fault.
type FieldError struct {
	Field   string
	Code    string
	Message string
	// Row and Column place the error in an imported spreadsheet (row as
	// the spreadsheet shows it, column letter); zero elsewhere.
	Row    int
	Column string
}

// Error is a platform error with a stable machine code.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter is a hint in seconds for KindRateLimited.
	RetryAfter int
	// Limit is the limit that was passed, for KindRateLimited (0: unknown).
	Limit int
	// Err is the cause, never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WithField names the field at fault, keeping the error's code.
func (e *Error) WithField(field string) *Error {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: e.Code, Message: e.Message})
	return e
}

// E builds an error of a kind with a code and message.
func E(kind Kind, code, msg string) *Error { return &Error{Kind: kind, Code: code, Message: msg} }

// Invalid is a 400 naming the field at fault.
func Invalid(field, code, msg string) *Error {
	return &Error{Kind: KindInvalid, Code: "validation_failed", Message: "The request is not valid.",
		Fields: []FieldError{{Field: field, Code: code, Message: msg}}}
}

// NotFound is a 404 for a resource that does not exist or is not the caller's.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: "No such " + what + "."}
}

// Forbidden is a 403 with a code.
func Forbidden(code, msg string) *Error { return E(KindForbidden, code, msg) }

// Unauthenticated is a 401.
func Unauthenticated(code, msg string) *Error { return E(KindUnauthenticated, code, msg) }

// Conflict is a 409.
func Conflict(code, msg string) *Error { return E(KindConflict, code, msg) }

// Unprocessable is a 422.
func Unprocessable(code, msg string) *Error { return E(KindUnprocessable, code, msg) }

// VersionMismatch is the 412 for a stale If-Match.
func VersionMismatch() *Error {
	return E(KindPreconditionFailed, "version_mismatch", "The resource has changed; fetch it again.")
}

// Internal wraps an unexpected failure; clients see only a generic message.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "Something went wrong on our side.", Err: err}
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of err; errors that are not *Error are internal.
func KindOf(err error) Kind {
	if e := As(err); e != nil {
		return e.Kind
	}
	return KindInternal
}

// CodeOf returns the code of err, or "internal".
func CodeOf(err error) string {
	if e := As(err); e != nil {
		return e.Code
	}
	return "internal"
}
