package subscription

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// Reasons a service is suspended. A payment that leaves a service owing
// nothing lifts a suspension (credit_limit only once the customer is back
// within its limit).
const (
	ReasonManual      = "manual"       // by an admin or the selling partner
	ReasonOverdue     = "overdue"      // dunning: an invoice suspension_days past due
	ReasonCreditLimit = "credit_limit" // dunning: the customer's balance above its limit
)

// StillDue re-checks, in the transaction that applies a vendor-first change
// with the service locked, that the change is still wanted (the invoice is
// still unpaid, the customer not paused...).
type StillDue func(ctx context.Context, tx *gorm.DB, v Subscription) (bool, error)

// Outcomes of a vendor-first change.
const (
	OutcomeApplied = "applied"  // the vendor, then the platform, changed
	OutcomeAlready = "already"  // the service was already there
	OutcomeNotDue  = "not_due"  // StillDue said no; the vendor is left (or put back) as the platform is
	OutcomeNotLive = "not_live" // pending, cancelled or terminated: nothing to do
)

// VendorFirst is what a vendor-first change did.
type VendorFirst struct {
	Service Subscription
	Outcome string
}

var errVendorFirst = errors.New("subscription: vendor-first changes are not wired yet")

// SuspendVendorFirst disables the service's tenant at the vendor and only
// then marks it suspended on the platform (with reason), recording the
// operation as done and telling the hooks. A vendor failure returns its
// error and changes nothing on the platform.
func (s *Service) SuspendVendorFirst(ctx context.Context, id uuid.UUID, reason, by string, due StillDue) (VendorFirst, error) {
	return VendorFirst{}, errs.Internal(errVendorFirst)
}

// TerminateVendorFirst disables then deletes the service's tenant at the
// vendor (revoking a partner's read-only grant first) and only then
// terminates it on the platform. A vendor failure returns its error and
// changes nothing on the platform.
func (s *Service) TerminateVendorFirst(ctx context.Context, id uuid.UUID, by string, due StillDue) (VendorFirst, error) {
	return VendorFirst{}, errs.Internal(errVendorFirst)
}

// UnsuspendFor makes a service suspended for reason active again (platform
// first, its operation enabling the tenant recorded with it), when due says
// so: dunning lifts a credit-limit suspension once the customer is within
// its limit.
func (s *Service) UnsuspendFor(ctx context.Context, id uuid.UUID, reason, by string, due StillDue) (VendorFirst, error) {
	return VendorFirst{}, errs.Internal(errVendorFirst)
}
