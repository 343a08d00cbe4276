package billing

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The rules below are how billing reads usage, exported so reports show
// the same figures the invoices bill.

// BilledValue is a day's usage as a metered charge bills it: bytes in
// whole GB (rounded up), anything else as counted.
func BilledValue(value int64, unit string) int64 {
	if unit == "bytes" {
		return GB(value)
	}
	return value
}

// OverGB is the GB by which storage (in bytes) goes over a soft quota of
// softGB per unit times quantity, rounded up; 0 when it does not.
func OverGB(bytes int64, softGB, quantity int) int64 {
	return GB(bytes - int64(softGB)*int64(quantity)<<30)
}

// Stretch is the days [From, To] at one quantity.
type Stretch struct {
	From, To time.Time
	Quantity int
}

// QuantityStretches splits [from, to] at a service's quantity changes, as
// post-paid months are billed; current is its quantity now, in force
// throughout when it never changed.
func (s *Service) QuantityStretches(ctx context.Context, db *gorm.DB, serviceID uuid.UUID, current int, from, to time.Time) ([]Stretch, error) {
	changes, err := s.changesOf(ctx, db, []uuid.UUID{serviceID})
	if err != nil {
		return nil, err
	}
	segs := segments(billable{Quantity: current}, changes[serviceID], from, to)
	out := make([]Stretch, len(segs))
	for i, sg := range segs {
		out[i] = Stretch{From: sg.from, To: sg.to, Quantity: sg.quantity}
	}
	return out, nil
}
