package postgres

import (
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acronis-platform/platform/internal/errs"
)

var (
	fkKey     = regexp.MustCompile(`Key \(([a-z_]+)\)=`)
	fkMissing = regexp.MustCompile(`is not present in table "([a-z_]+)"`)
	fkDelete  = regexp.MustCompile(`^update or delete on table "([a-z_]+)"`)
)

// InputError turns the PostgreSQL errors that input can cause into the
// client's 4xx: a foreign key to nothing (422 <thing>_not_found) or a delete
// of a row still referenced (409 in_use), a number or text that does not fit
// its column, text or a date PostgreSQL cannot store, a broken CHECK. nil
// for anything else, which stays a 500. Services check input before it gets
// here; this is the net under them.
func InputError(err error) *errs.Error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return nil
	}
	switch pg.Code {
	case "23503": // foreign_key_violation
		return foreignKey(pg)
	case "22003": // numeric_value_out_of_range
		return &errs.Error{Kind: errs.KindUnprocessable, Code: "amount_too_large", Message: "An amount or number is larger than the platform can store."}
	case "22001": // string_data_right_truncation
		return errs.Invalid("body", "out_of_range", "a text is longer than the platform can store")
	case "22008": // datetime_field_overflow
		return &errs.Error{Kind: errs.KindUnprocessable, Code: "date_out_of_range", Message: "A date is outside the range the platform accepts."}
	case "23514": // check_violation
		return &errs.Error{Kind: errs.KindUnprocessable, Code: "invalid_value", Message: "A value breaks a rule of the platform."}
	}
	if strings.HasPrefix(pg.Code, "22") { // data_exception: 22P02, 22021, 22007, ...
		return errs.Invalid("body", "invalid_format", "a value is not in a form the platform can store")
	}
	return nil
}

// Contention turns the errors of a transaction that met another one into
// a 409 concurrent_change: a deadlock PostgreSQL broke, a serialization
// failure, a lock not available. Its transaction was rolled back and the
// request may be sent again. nil for anything else. The services keep
// their locks in one order so that it does not happen; this is the net
// under them.
func Contention(err error) *errs.Error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return nil
	}
	switch pg.Code {
	case "40P01", "40001", "55P03": // deadlock_detected, serialization_failure, lock_not_available
		return errs.Conflict("concurrent_change", "Another request changed the same data at the same time; send this one again.")
	}
	return nil
}

// foreignKey names the missing thing (`partner_not_found` for a row that
// points at no partner) or, on delete, the thing still in use (409, as the
// services answer it).
func foreignKey(pg *pgconn.PgError) *errs.Error {
	field := ""
	if m := fkKey.FindStringSubmatch(pg.Detail); m != nil {
		field = m[1]
	}
	if m := fkMissing.FindStringSubmatch(pg.Detail); m != nil {
		thing := singular(m[1])
		e := errs.Unprocessable(thing+"_not_found", "No such "+strings.ReplaceAll(thing, "_", " ")+".")
		if field != "" {
			e = e.WithField(field)
		}
		return e
	}
	thing := "resource"
	if m := fkDelete.FindStringSubmatch(pg.Message); m != nil {
		thing = strings.ReplaceAll(singular(m[1]), "_", " ")
	}
	return errs.Conflict("in_use", "This "+thing+" is still in use.")
}

// singular is enough English for the platform's table names.
func singular(table string) string {
	switch {
	case strings.HasSuffix(table, "xes"), strings.HasSuffix(table, "sses"):
		return strings.TrimSuffix(table, "es")
	case strings.HasSuffix(table, "ies"):
		return strings.TrimSuffix(table, "ies") + "y"
	default:
		return strings.TrimSuffix(table, "s")
	}
}
