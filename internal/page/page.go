// Package page implements keyset pagination with opaque cursors, and the
// scoped reads of one row that list endpoints pair with.
package page

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

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

// Find reads one page of q (rows of table) and the cursor of the next.
func Find[T any](q *gorm.DB, table string, r Request, key func(T) Key) ([]T, string, error) {
	var rows []T
	if err := r.Apply(q, table).Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	rows, next := Trim(r, rows, key)
	return rows, next, nil
}

// Take reads the row of table with id through q, which may scope it, and
// locks it for update when lock is set. A row out of scope is not found.
//
// The lock is FOR NO KEY UPDATE, as for every row the platform changes but
// never re-keys: it keeps writers of the row apart but not the foreign key
// checks of other transactions (FOR KEY SHARE). FOR UPDATE blocked those,
// so a change of a service waiting for its plan (the foreign key check of
// its second update) and a delete of that plan waiting to look for the
// services on it deadlocked (a 500 for one of them). A DELETE still takes
// FOR UPDATE itself.
func Take[T any](q *gorm.DB, table string, id uuid.UUID, what string, lock bool) (T, error) {
	var v T
	if lock {
		q = q.Clauses(clause.Locking{Strength: "NO KEY UPDATE"})
	}
	err := q.Take(&v, table+".id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return v, errs.NotFound(what)
	}
	if err != nil {
		return v, errs.Internal(err)
	}
	return v, nil
}
