// Package provisioning is the vendor-neutral module interface the platform
// provisions services through, in the spirit of classic hosting modules, and
// its Acronis implementation. Every operation is idempotent: running it again
// after a partial failure finishes the job without duplicates.
package provisioning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/errs"
)

// Quota is a per-item limit; nil Value means unlimited.
type Quota struct {
	Value   *int64
	Overage *int64
}

// Account is what CreateAccount provisions: a customer tenant under a
// parent (the SP's or a partner's tenant), its items and quotas, and its
// first admin user.
type Account struct {
	// Ref is the platform's stable id for the service; the vendor tenant
	// carries it, so a retry finds what an earlier attempt made.
	Ref            string
	ParentTenantID string
	// Name is the customer's name; the tenant is named after it and a
	// short reference to Ref (TenantName), so one customer may hold any
	// number of tenants under one parent.
	Name     string
	Email    string
	Login    string
	Password string
	Trial    bool
	Edition  string
	Items    map[string]Quota // offering item name -> quota
	// Storage, when set, is the backup storage quota in bytes (Value the
	// soft quota, Overage the hard one above it), put on the edition's
	// storage item.
	Storage *Quota
	// ReadOnlyUserID, when set, gets read-only access to the new tenant
	// (a partner's own vendor user).
	ReadOnlyUserID string
	// Progress, when set, hears of each step done, with what it made.
	Progress func(step, detail string)
}

func (a Account) progress(step, detail string) {
	if a.Progress != nil {
		a.Progress(step, detail)
	}
}

// Steps of CreateAccount, in order.
const (
	StepTenant      = "tenant_created"
	StepPricingMode = "pricing_mode_set"
	StepItems       = "offering_items_set"
	StepUser        = "user_ready"
	StepPolicies    = "access_policies_set"
	StepReadOnly    = "partner_read_only_granted"
)

// Result is what a provisioned account is known by.
type Result struct {
	TenantID string
	UserID   string
	Login    string
	// StorageItem is the item the storage quota was put on, if any.
	StorageItem string
}

// Reseller is a tier-2 partner's own vendor account: a partner tenant under
// the SP's, with every item the SP may pass on, and its admin user.
type Reseller struct {
	Ref   string // the platform's partner id, carried by the tenant
	Name  string // the partner's name; the tenant is named TenantName(Name, "partner", Ref)
	Email string
	Login string
}

// Module provisions and manages accounts at a vendor.
type Module interface {
	TestConnection(ctx context.Context) error
	CreateReseller(ctx context.Context, r Reseller) (Result, error)
	CheckUsername(ctx context.Context, login string) (bool, error)
	CreateAccount(ctx context.Context, a Account) (Result, error)
	Suspend(ctx context.Context, tenantID string) error
	Unsuspend(ctx context.Context, tenantID string) error
	Terminate(ctx context.Context, tenantID string) error
	// RevokeReadOnly removes a user's policies on a tenant (a partner's
	// read-only grant on a customer tenant about to be deleted).
	RevokeReadOnly(ctx context.Context, userID, tenantID string) error
	// SetProduction switches a tenant from trial to production pricing.
	SetProduction(ctx context.Context, tenantID string) error
	ChangeQuotas(ctx context.Context, tenantID string, items map[string]Quota) error
	ChangePassword(ctx context.Context, userID, password string) error
	ChangeLogin(ctx context.Context, userID, login string) error
	SingleSignOn(ctx context.Context, login, target string) (string, error)
	// CheckItems lists what a parent tenant cannot give a customer.
	CheckItems(ctx context.Context, parentTenantID, edition string, names []string, storage bool) ([]string, error)
	// ParentTenant is the SP's own tenant.
	ParentTenant(ctx context.Context) (string, error)
}

// ItemsNotAvailableError names requested items the parent cannot give.
type ItemsNotAvailableError struct{ Items []string }

func (e *ItemsNotAvailableError) Error() string {
	return fmt.Sprintf("offering items not available: %s", strings.Join(e.Items, ", "))
}

// MaxTenantName is the longest tenant name the platform gives the vendor
// (in characters). The vendor documents no limit; its console shows names
// of about this length whole.
const MaxTenantName = 100

// TenantName is the vendor tenant name of an account: the owner's name and
// a short reference to the platform's id, e.g. "Acme Ltd (svc 1a2b3c4d)".
// The vendor refuses two tenants of one name under one parent (1004), and
// owners' names repeat (a customer's second service, a partner renamed and
// its old name taken by a new one); the reference keeps every name unique
// and the same on every run. A long owner name is cut to fit MaxTenantName,
// never the reference.
func TenantName(owner, kind, ref string) string {
	short := strings.ReplaceAll(ref, "-", "")
	if len(short) > 8 {
		short = short[:8]
	}
	suffix := " (" + kind + " " + short + ")"
	name := []rune(strings.Join(strings.Fields(owner), " "))
	if room := MaxTenantName - len([]rune(suffix)); len(name) > room {
		name = []rune(strings.TrimSpace(string(name[:room])))
	}
	return strings.TrimSpace(string(name) + suffix)
}

func sortedNames(m map[string]Quota) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Retryable tells whether another try of a vendor step may succeed: a
// vendor error the client marks retryable (5xx, 429, network) or a fault of
// our own; never a refusal such as items the parent cannot give.
func Retryable(err error) bool {
	var na *ItemsNotAvailableError
	if errors.As(err, &na) {
		return false
	}
	var ve *acronis.Error
	if errors.As(err, &ve) {
		return ve.Retryable
	}
	return errs.KindOf(err) == errs.KindInternal
}
