package subscription

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// SSOTTL is how long a one-time login link works (the vendor's OTT life).
const SSOTTL = 5 * time.Minute

// Link is a one-time login link.
type Link struct {
	URL       string
	ExpiresAt time.Time
}

func notTerminated(v Subscription) error {
	if v.Status == StatusTerminated {
		return errs.Conflict("service_terminated", "This service is terminated and can no longer change.")
	}
	return nil
}

func mustBeProvisioned(v Subscription) error {
	if err := notTerminated(v); err != nil {
		return err
	}
	if v.Status == StatusPending || v.Status == StatusCancelled {
		return errs.Conflict("service_not_provisioned", "This service has no vendor account (yet).")
	}
	return nil
}

// SSOLink makes a fresh one-time login link into the vendor portal for the
// service's admin user.
func (s *Service) SSOLink(ctx context.Context, who auth.Principal, id uuid.UUID) (Link, error) {
	v, err := s.Get(ctx, who, id)
	if err != nil {
		return Link{}, err
	}
	if err := mustBeProvisioned(v); err != nil {
		return Link{}, err
	}
	if v.Status != StatusActive {
		return Link{}, errs.Conflict("service_not_active", "A suspended service cannot be logged into.")
	}
	m, err := s.module(ctx, v.PlanID)
	if err != nil {
		return Link{}, err
	}
	if m == nil {
		return Link{}, errs.Unprocessable("module_not_applicable", "This service has no vendor portal.")
	}
	now := s.clk.Now()
	url, err := m.SingleSignOn(ctx, v.Username, "/mc/")
	if err != nil {
		return Link{}, vendorErr(err)
	}
	return Link{URL: url, ExpiresAt: now.Add(SSOTTL)}, nil
}

// change runs a vendor change, then the platform's, on a service the caller
// may act on, at the version it read when ifVersion is set.
func (s *Service) change(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64,
	check func(Subscription) error, vendor func(provisioning.Module, Subscription) error, apply func(*Subscription)) (Subscription, error) {
	v, err := s.Get(ctx, who, id)
	if err != nil {
		return Subscription{}, err
	}
	if ifVersion != nil && *ifVersion != v.Version {
		return Subscription{}, errs.VersionMismatch()
	}
	if err := check(v); err != nil {
		return Subscription{}, err
	}
	m, err := s.module(ctx, v.PlanID)
	if err != nil {
		return Subscription{}, err
	}
	if m != nil && vendor != nil {
		if err := vendor(m, v); err != nil {
			return Subscription{}, vendorErr(err)
		}
	}
	var out Subscription
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(Scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return errs.VersionMismatch()
		}
		if err := notTerminated(cur); err != nil {
			return err
		}
		apply(&cur)
		cur.Version++
		cur.UpdatedAt = s.now()
		if err := tx.Save(&cur).Error; err != nil {
			return storeErr(err)
		}
		out = cur
		return nil
	})
	return out, err
}

func storeErr(err error) error {
	if errs.As(err) != nil {
		return err
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return errs.Conflict("username_taken", "This username is taken.").WithField("username")
	}
	return errs.Internal(err)
}

// Suspend disables the tenant at the vendor, then marks the service
// suspended. Suspending a suspended service changes nothing.
func (s *Service) Suspend(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Subscription, error) {
	return s.change(ctx, who, id, ifVersion, mustBeProvisioned,
		func(m provisioning.Module, v Subscription) error { return m.Suspend(ctx, *v.VendorTenantID) },
		func(v *Subscription) {
			if v.Status != StatusSuspended {
				now := s.now()
				v.Status, v.SuspendedAt = StatusSuspended, &now
			}
		})
}

// Unsuspend enables the tenant again, then the service.
func (s *Service) Unsuspend(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Subscription, error) {
	return s.change(ctx, who, id, ifVersion, mustBeProvisioned,
		func(m provisioning.Module, v Subscription) error { return m.Unsuspend(ctx, *v.VendorTenantID) },
		func(v *Subscription) { v.Status, v.SuspendedAt = StatusActive, nil })
}

// Terminate disables and deletes the tenant at the vendor, then ends the
// service for good.
func (s *Service) Terminate(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Subscription, error) {
	return s.change(ctx, who, id, ifVersion, mustBeProvisioned,
		func(m provisioning.Module, v Subscription) error { return m.Terminate(ctx, *v.VendorTenantID) },
		func(v *Subscription) {
			now, end := s.now(), s.today()
			v.Status, v.TerminatedAt, v.PasswordEnc, v.EndDate = StatusTerminated, &now, nil, &end
		})
}

// ResetPassword sets a new generated password at the vendor and returns it;
// the platform does not keep it.
func (s *Service) ResetPassword(ctx context.Context, who auth.Principal, id uuid.UUID) (Subscription, string, error) {
	pw, err := NewPassword()
	if err != nil {
		return Subscription{}, "", errs.Internal(err)
	}
	v, err := s.change(ctx, who, id, nil, s.vendorUser,
		func(m provisioning.Module, v Subscription) error { return m.ChangePassword(ctx, *v.VendorUserID, pw) },
		func(v *Subscription) { v.PasswordEnc = nil })
	return v, pw, err
}

func (s *Service) vendorUser(v Subscription) error {
	if err := mustBeProvisioned(v); err != nil {
		return err
	}
	if v.VendorUserID == nil {
		return errs.Unprocessable("module_not_applicable", "This service has no vendor user.")
	}
	return nil
}

// CredentialsInput changes the vendor login, the password, or both.
type CredentialsInput struct {
	Username, Password *string
}

// UpdateCredentials pushes a new login (checked free on the platform and at
// the vendor) and/or a new password to the vendor, then records the login.
func (s *Service) UpdateCredentials(ctx context.Context, who auth.Principal, id uuid.UUID, in CredentialsInput, ifVersion *int64) (Subscription, error) {
	if in.Username == nil && in.Password == nil {
		return Subscription{}, errs.Invalid("username", "required", "give username, password or both")
	}
	if in.Password != nil {
		if err := CheckPassword(*in.Password); err != nil {
			return Subscription{}, err
		}
	}
	check := func(v Subscription) error {
		if err := s.vendorUser(v); err != nil {
			return err
		}
		if in.Username == nil || strings.EqualFold(*in.Username, v.Username) {
			return nil
		}
		m, err := s.module(ctx, v.PlanID)
		if err != nil {
			return err
		}
		free, err := s.UsernameFree(ctx, m, *in.Username)
		if err != nil {
			return err
		}
		if !free {
			return errs.Conflict("username_taken", "This username is taken.").WithField("username")
		}
		return nil
	}
	return s.change(ctx, who, id, ifVersion, check,
		func(m provisioning.Module, v Subscription) error {
			if in.Username != nil && *in.Username != v.Username {
				if err := m.ChangeLogin(ctx, *v.VendorUserID, *in.Username); err != nil {
					return err
				}
			}
			if in.Password != nil {
				return m.ChangePassword(ctx, *v.VendorUserID, *in.Password)
			}
			return nil
		},
		func(v *Subscription) {
			if in.Username != nil {
				v.Username = *in.Username
			}
			if in.Password != nil {
				v.PasswordEnc = nil
			}
		})
}
