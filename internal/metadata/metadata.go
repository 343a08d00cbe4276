// Package metadata is the integrator's own string map on customers, orders
// and services (its ids in a shop or CRM). The platform stores it, echoes it
// back and filters lists on it; it never acts on it.
//
// Invariants: at most MaxKeys keys; a key is 1..MaxKeyLen characters of
// [A-Za-z0-9_.:-] (safe in a URL's `metadata[key]` and in any JSON path); a
// value is 1..MaxValueLen characters with no NUL. It is stored as a jsonb
// object (never NULL; `{}` when empty) with a GIN index for containment.
package metadata

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// Bounds of a map.
const (
	MaxKeys     = 20
	MaxKeyLen   = 40
	MaxValueLen = 500
)

// Field error codes, also named in the spec's Metadata schema.
const (
	CodeTooManyKeys  = "metadata_too_many_keys"
	CodeKeyInvalid   = "metadata_key_invalid"
	CodeValueInvalid = "metadata_value_invalid"
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,40}$`)

// Map is a metadata map; nil reads and stores as `{}`.
type Map map[string]string

// Value stores the map as a jsonb object.
func (m Map) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]string(m))
	return string(b), err
}

// Scan reads a jsonb object.
func (m *Map) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*m = Map{}
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("metadata: cannot scan %T", src)
	}
	out := Map{}
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	*m = out
	return nil
}

// GormDataType tells GORM the column type.
func (Map) GormDataType() string { return "jsonb" }

// Clone copies m; nil stays an empty map.
func (m Map) Clone() Map {
	out := make(Map, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Check enforces the bounds on m, given as field (e.g. "metadata" or
// "customer.metadata"). Every broken rule is named, keys in order.
func Check(field string, m map[string]string) error {
	var fields []errs.FieldError
	if len(m) > MaxKeys {
		fields = append(fields, errs.FieldError{Field: field, Code: CodeTooManyKeys,
			Message: fmt.Sprintf("at most %d keys, got %d", MaxKeys, len(m))})
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !keyPattern.MatchString(k) {
			fields = append(fields, errs.FieldError{Field: field, Code: CodeKeyInvalid,
				Message: fmt.Sprintf("key %q is not 1 to %d characters of A-Z a-z 0-9 _ . : -", shorten(k), MaxKeyLen)})
			continue
		}
		v := m[k]
		if n := utf8.RuneCountInString(v); n < 1 || n > MaxValueLen || strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
			fields = append(fields, errs.FieldError{Field: field + "." + k, Code: CodeValueInvalid,
				Message: fmt.Sprintf("a value is 1 to %d characters of text", MaxValueLen)})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	e := errs.Invalid(field, fields[0].Code, fields[0].Message)
	e.Fields = fields
	return e
}

// shorten keeps an echoed bad key short and printable.
func shorten(k string) string {
	k = strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "")
	if utf8.RuneCountInString(k) > MaxKeyLen {
		return string([]rune(k)[:MaxKeyLen]) + "…"
	}
	return k
}

// Where keeps the rows of table whose metadata holds every pair of f; an
// empty f keeps all. Check f first.
func Where(q *gorm.DB, table string, f map[string]string) *gorm.DB {
	if len(f) == 0 {
		return q
	}
	b, _ := json.Marshal(f)
	return q.Where(table+".metadata @> ?::jsonb", string(b))
}
