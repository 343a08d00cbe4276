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

func storeErr(err error) error {
	if errs.As(err) != nil {
		return err
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return errs.Conflict("username_taken", "This username is taken.").WithField("username")
	}
	return errs.Internal(err)
}

func notExpired(v Subscription) error {
	if v.Status == StatusExpired {
		return errs.Conflict("service_expired", "This free trial has ended; move it to a paid plan first.")
	}
	return nil
}

func liveProvisioned(v Subscription) error {
	if err := mustBeProvisioned(v); err != nil {
		return err
	}
	return notExpired(v)
}

// Suspend marks the service suspended (ReasonManual) and has the vendor
// disable its tenant. Suspending a suspended service changes nothing on
// the platform (its reason stays) and makes sure of the vendor side again.
func (s *Service) Suspend(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Outcome, error) {
	return s.act(ctx, who, id, ifVersion, liveProvisioned, func(tx *gorm.DB, v *Subscription) (*intent, error) {
		in := &intent{kind: OpSuspend}
		if v.Status != StatusSuspended {
			now := s.now()
			reason := ReasonManual
			v.Status, v.SuspendedAt, v.SuspensionReason = StatusSuspended, &now, &reason
			if err := tx.Model(&Subscription{}).Where("id = ?", v.ID).
				Updates(map[string]any{"status": StatusSuspended, "suspended_at": now, "suspension_reason": reason}).Error; err != nil {
				return nil, errs.Internal(err)
			}
			in.hook = hookSuspended
		}
		return in, nil
	})
}

// Unsuspend makes the service active and has the vendor enable its tenant.
func (s *Service) Unsuspend(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Outcome, error) {
	return s.act(ctx, who, id, ifVersion, liveProvisioned, func(tx *gorm.DB, v *Subscription) (*intent, error) {
		return s.unsuspendTx(tx, v)
	})
}

// unsuspendTx makes the service active (no suspension reason); the hooks
// are told only when it was suspended.
func (s *Service) unsuspendTx(tx *gorm.DB, v *Subscription) (*intent, error) {
	in := &intent{kind: OpUnsuspend}
	if v.Status == StatusSuspended {
		in.hook = hookUnsuspended
	}
	v.Status, v.SuspendedAt, v.SuspensionReason = StatusActive, nil, nil
	if err := tx.Model(&Subscription{}).Where("id = ?", v.ID).
		Updates(map[string]any{"status": StatusActive, "suspended_at": nil, "suspension_reason": nil}).Error; err != nil {
		return nil, errs.Internal(err)
	}
	return in, nil
}

// Terminate ends the service for good at once (billing stops, its username
// is free again); the vendor side removes a partner's read-only grant, then
// disables and deletes the tenant.
func (s *Service) Terminate(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Outcome, error) {
	return s.act(ctx, who, id, ifVersion, mustBeProvisioned, func(tx *gorm.DB, v *Subscription) (*intent, error) {
		if err := s.terminateTx(tx, v); err != nil {
			return nil, err
		}
		return &intent{kind: OpTerminate, hook: hookTerminated}, nil
	})
}

// terminateTx ends the service on the platform: billing stops, its
// username is free again, no suspension reason is left.
func (s *Service) terminateTx(tx *gorm.DB, v *Subscription) error {
	now, end := s.now(), s.today()
	if err := tx.Model(&Subscription{}).Where("id = ?", v.ID).Updates(map[string]any{
		"status": StatusTerminated, "terminated_at": now, "password_enc": nil, "end_date": end,
		"suspension_reason": nil}).Error; err != nil {
		return errs.Internal(err)
	}
	v.Status, v.TerminatedAt, v.PasswordEnc, v.EndDate, v.SuspensionReason = StatusTerminated, &now, nil, &end, nil
	return nil
}

// ResetPassword has the vendor set a new generated password and returns
// it when the vendor confirmed within the wait; otherwise it stays sealed
// on the operation for the requester's first read of it once done.
func (s *Service) ResetPassword(ctx context.Context, who auth.Principal, id uuid.UUID) (Outcome, string, error) {
	pw, err := NewPassword()
	if err != nil {
		return Outcome{}, "", errs.Internal(err)
	}
	out, err := s.act(ctx, who, id, nil, s.vendorUser, func(tx *gorm.DB, v *Subscription) (*intent, error) {
		if err := tx.Model(&Subscription{}).Where("id = ?", v.ID).Update("password_enc", nil).Error; err != nil {
			return nil, errs.Internal(err)
		}
		return &intent{kind: OpResetPassword, secret: pw, reset: true}, nil
	})
	if err != nil || out.Op == nil {
		return out, pw, err
	}
	if out.Pending {
		return out, "", nil
	}
	got, err := s.takePassword(ctx, out.Op)
	return out, got, err
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

// UpdateCredentials records a new login (checked free on the platform and
// at the vendor) at once and has the vendor rename the user and/or set the
// new password (kept sealed until then).
func (s *Service) UpdateCredentials(ctx context.Context, who auth.Principal, id uuid.UUID, in CredentialsInput, ifVersion *int64) (Outcome, error) {
	if in.Username == nil && in.Password == nil {
		return Outcome{}, errs.Invalid("username", "required", "give username, password or both")
	}
	if in.Password != nil {
		if err := CheckPassword(*in.Password); err != nil {
			return Outcome{}, err
		}
	}
	v, err := s.Get(ctx, who, id)
	if err != nil {
		return Outcome{}, err
	}
	if err := s.vendorUser(v); err != nil {
		return Outcome{}, err
	}
	rename := in.Username != nil && !strings.EqualFold(*in.Username, v.Username)
	if rename {
		m, err := s.module(ctx, v.PlanID)
		if err != nil {
			return Outcome{}, err
		}
		free, err := s.UsernameFree(ctx, m, *in.Username)
		if err != nil {
			return Outcome{}, err
		}
		if !free {
			return Outcome{}, errs.Conflict("username_taken", "This username is taken.").WithField("username")
		}
	}
	return s.act(ctx, who, id, ifVersion, s.vendorUser, func(tx *gorm.DB, v *Subscription) (*intent, error) {
		in2 := intent{kind: OpUpdateCredentials}
		updates := map[string]any{}
		if in.Username != nil && *in.Username != v.Username {
			updates["username"] = *in.Username
			in2.params.Username = in.Username
			v.Username = *in.Username
		}
		if in.Password != nil {
			updates["password_enc"] = nil
			in2.params.Password, in2.secret = true, *in.Password
		}
		if len(updates) > 0 {
			if err := tx.Model(&Subscription{}).Where("id = ?", v.ID).Updates(updates).Error; err != nil {
				return nil, storeErr(err)
			}
		}
		if in2.params.Username == nil && !in2.params.Password {
			return nil, nil
		}
		return &in2, nil
	})
}
