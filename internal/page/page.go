// Package page implements keyset pagination with opaque cursors.
package page

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Request is one page request: how many, after which row.
type Request struct {
	Limit int
	After *Key
}

// Key is the position of a row in (created_at, id) order.
type Key struct {
	CreatedAt time.Time `json:"t"`
	ID        uuid.UUID `json:"i"`
}

// Parse builds a Request from the query parameters; a cursor that does not
// decode is a 400 on the cursor field.
func Parse(limit *int, cursor *string) (Request, error) {
	r := Request{Limit: DefaultLimit}
	if limit != nil {
		if *limit < 1 || *limit > MaxLimit {
			return r, errs.Invalid("limit", "out_of_range", "limit must be between 1 and 200")
		}
		r.Limit = *limit
	}
	if cursor != nil && *cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(*cursor)
		var k Key
		if err != nil || json.Unmarshal(b, &k) != nil || k.ID == uuid.Nil {
			return r, errs.Invalid("cursor", "invalid_cursor", "cursor is not one this API returned")
		}
		r.After = &k
	}
	return r, nil
}

// Apply orders q by (created_at, id), skips to the cursor and fetches one
// extra row to learn whether another page follows.
func (r Request) Apply(q *gorm.DB, table string) *gorm.DB {
	if r.After != nil {
		q = q.Where("("+table+".created_at, "+table+".id) > (?, ?)", r.After.CreatedAt, r.After.ID)
	}
	return q.Order(table + ".created_at, " + table + ".id").Limit(r.Limit + 1)
}

// Trim cuts the extra row and returns the cursor of the next page, or "".
func Trim[T any](r Request, rows []T, key func(T) Key) ([]T, string) {
	if len(rows) <= r.Limit {
		return rows, ""
	}
	rows = rows[:r.Limit]
	b, _ := json.Marshal(key(rows[len(rows)-1]))
	return rows, base64.RawURLEncoding.EncodeToString(b)
}
