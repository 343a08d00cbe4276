package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

// Sealer encrypts secrets at rest (secret.Box).
type Sealer interface {
	Seal(plain, context []byte) ([]byte, error)
	Open(sealed, context []byte) ([]byte, error)
}

// Jobs enqueues River jobs in a transaction (jobs.Runner).
type Jobs interface {
	InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
	InsertManyTx(ctx context.Context, tx *gorm.DB, params []river.InsertManyParams) error
}

// Recorder records an event of this package's own (the disabling of an
// endpoint) in the caller's transaction; the event log, which fans it out
// to the endpoints again.
type Recorder func(ctx context.Context, tx *gorm.DB, ev Event) error

// Config shapes the service.
type Config struct {
	// Policy is where endpoints may point (WEBHOOK_ALLOW_PRIVATE, ENV).
	Policy egress.Policy
	// Backoff is the wait after the n-th failed try; nil: Backoff.
	Backoff func(n int) time.Duration
}

// Service is the webhooks' unit of work.
type Service struct {
	db       *gorm.DB
	clk      clock.Clock
	box      Sealer
	policy   egress.Policy
	http     *http.Client
	backoff  func(n int) time.Duration
	jobs     Jobs
	recorder Recorder
}

// NewService wires the service; UseJobs must follow before events are
// enqueued.
func NewService(db *gorm.DB, clk clock.Clock, box Sealer, cfg Config) *Service {
	c := cfg.Policy.Client()
	c.CheckRedirect = egress.NoRedirects
	c.Timeout = Timeout
	s := &Service{db: db, clk: clk, box: box, policy: cfg.Policy, http: c, backoff: cfg.Backoff}
	if s.backoff == nil {
		s.backoff = Backoff
	}
	s.recorder = s.Enqueue
	return s
}

// UseJobs sets where delivery jobs are enqueued.
func (s *Service) UseJobs(j Jobs) { s.jobs = j }

// UseRecorder sets how the service records its own events
// (webhook_endpoint.disabled) in a transaction: the event log's recorder,
// which then fans the event out through Enqueue. Until it is set, such
// events go straight to Enqueue.
func (s *Service) UseRecorder(r Recorder) { s.recorder = r }

// Input is what a caller sets on an endpoint; nil fields are unchanged on
// update.
type Input struct {
	URL         *string
	EventTypes  *[]string
	Enabled     *bool
	Description *string
	// PartnerID is the owner an admin creates the endpoint for (create only).
	PartnerID *uuid.UUID
}

// Filter narrows a list of endpoints.
type Filter struct{ PartnerID *uuid.UUID }

// DeliveryFilter narrows a list of deliveries.
type DeliveryFilter struct {
	Status    *Status
	EventType *string
}

func allowed(p auth.Principal) error {
	if p.IsAdmin() || (p.Role == auth.RolePartner && p.PartnerID != nil) {
		return nil
	}
	return errs.Forbidden("forbidden", "Your role may not manage webhook endpoints.")
}

// visible scopes q to the endpoints p may see: an admin every one, a
// partner its own.
func visible(q *gorm.DB, p auth.Principal) *gorm.DB {
	switch {
	case p.IsAdmin():
		return q
	case p.Role == auth.RolePartner && p.PartnerID != nil:
		return q.Where("webhook_endpoints.partner_id = ?", *p.PartnerID)
	default:
		return q.Where("false")
	}
}

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// newSecret makes a signing key and its whsec_ form.
func newSecret() ([]byte, string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, "", err
	}
	return key, "whsec_" + base64.StdEncoding.EncodeToString(key), nil
}

func secretContext(id uuid.UUID) []byte { return []byte("webhook_endpoint:" + id.String()) }

const (
	maxURL         = 2048
	maxDescription = 500
)

// vet checks the fields given, in the order a caller reads them.
func (s *Service) vet(ctx context.Context, in Input) error {
	if in.URL != nil {
		*in.URL = strings.TrimSpace(*in.URL)
		if len(*in.URL) > maxURL {
			return errs.Unprocessable("webhook_url_invalid", "The URL must be an absolute https URL with a host, at most 2048 characters.").WithField("url")
		}
		if err := s.vetURL(ctx, *in.URL); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		seen := map[string]bool{}
		out := make([]string, 0, len(*in.EventTypes))
		for i, t := range *in.EventTypes {
			if !KnownType(t) {
				return errs.Unprocessable("webhook_event_type_unknown", "No event has this type: "+strconv.Quote(t)+".").
					WithField("event_types[" + strconv.Itoa(i) + "]")
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		*in.EventTypes = out
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > maxDescription {
		return errs.Unprocessable("invalid_value", "The description is at most 500 characters.").WithField("description")
	}
	return nil
}

// vetURL refuses a URL the platform must not post to.
func (s *Service) vetURL(ctx context.Context, raw string) error {
	err := s.policy.CheckURL(ctx, raw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, egress.ErrScheme):
		return errs.Unprocessable("webhook_url_not_https", "The URL must use https (http only to a loopback address, outside production).").WithField("url")
	case errors.Is(err, egress.ErrAddress):
		return errs.Unprocessable("webhook_url_not_allowed", "The URL's host is, or resolves to, a private, loopback, link-local or reserved address.").WithField("url")
	default:
		return errs.Unprocessable("webhook_url_invalid", "The URL must be an absolute https URL with a host, at most 2048 characters.").WithField("url")
	}
}

// Create makes an endpoint for the caller (or, for an admin naming
// partner_id, for that partner) and returns it with its secret, shown
// only now.
func (s *Service) Create(ctx context.Context, p auth.Principal, in Input) (Endpoint, string, error) {
	if err := allowed(p); err != nil {
		return Endpoint{}, "", err
	}
	owner := in.PartnerID
	if !p.IsAdmin() {
		if owner != nil && *owner != *p.PartnerID {
			return Endpoint{}, "", errs.Forbidden("partner_not_allowed", "Partners may create endpoints only for themselves.")
		}
		owner = p.PartnerID
	}
	if in.URL == nil {
		return Endpoint{}, "", errs.Invalid("url", "required", "url is required")
	}
	if err := s.vet(ctx, in); err != nil {
		return Endpoint{}, "", err
	}
	now := s.now()
	ep := Endpoint{ID: uuid.New(), PartnerID: owner, URL: *in.URL, EventTypes: []string{}, Enabled: true,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if in.EventTypes != nil {
		ep.EventTypes = *in.EventTypes
	}
	if in.Enabled != nil {
		ep.Enabled = *in.Enabled
	}
	if in.Description != nil {
		ep.Description = *in.Description
	}
	key, secret, err := newSecret()
	if err != nil {
		return Endpoint{}, "", errs.Internal(err)
	}
	if ep.Secret, err = s.box.Seal(key, secretContext(ep.ID)); err != nil {
		return Endpoint{}, "", errs.Internal(err)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if owner != nil {
			var found bool
			if err := tx.Raw("SELECT EXISTS (SELECT 1 FROM partners WHERE id = ?)", *owner).Scan(&found).Error; err != nil {
				return errs.Internal(err)
			}
			if !found {
				return errs.Unprocessable("partner_not_found", "No partner has this id.").WithField("partner_id")
			}
		}
		// Serialise creates of one owner so the limit holds.
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext('webhook_endpoints:' || ?))", ownerKey(owner)).Error; err != nil {
			return errs.Internal(err)
		}
		var n int64
		q := tx.Model(&Endpoint{})
		if owner == nil {
			q = q.Where("partner_id IS NULL")
		} else {
			q = q.Where("partner_id = ?", *owner)
		}
		if err := q.Count(&n).Error; err != nil {
			return errs.Internal(err)
		}
		if n >= MaxEndpoints {
			return errs.Unprocessable("webhook_endpoint_limit", "An owner may have at most 20 webhook endpoints.")
		}
		if err := tx.Create(&ep).Error; err != nil {
			return errs.Internal(err)
		}
		return nil
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return ep, secret, nil
}

func ownerKey(owner *uuid.UUID) string {
	if owner == nil {
		return "sp"
	}
	return owner.String()
}

// List returns a page of the endpoints p may see.
func (s *Service) List(ctx context.Context, p auth.Principal, f Filter, r page.Request) ([]Endpoint, string, error) {
	if err := allowed(p); err != nil {
		return nil, "", err
	}
	q := visible(s.db.WithContext(ctx).Model(&Endpoint{}), p)
	if f.PartnerID != nil {
		q = q.Where("webhook_endpoints.partner_id = ?", *f.PartnerID)
	}
	return page.Find(q, "webhook_endpoints", r, func(e Endpoint) page.Key { return page.Key{CreatedAt: e.CreatedAt, ID: e.ID} })
}

// Get returns one endpoint p may see.
func (s *Service) Get(ctx context.Context, p auth.Principal, id uuid.UUID) (Endpoint, error) {
	if err := allowed(p); err != nil {
		return Endpoint{}, err
	}
	return page.Take[Endpoint](visible(s.db.WithContext(ctx), p), "webhook_endpoints", id, "webhook endpoint", false)
}

func checkVersion(ep Endpoint, ifVersion *int64) error {
	if ifVersion != nil && *ifVersion != ep.Version {
		return errs.VersionMismatch()
	}
	return nil
}

// Update changes the fields given. Enabling an endpoint clears its failure
// record; disabling it leaves pending deliveries to fail when tried.
func (s *Service) Update(ctx context.Context, p auth.Principal, id uuid.UUID, in Input, ifVersion *int64) (Endpoint, error) {
	if err := allowed(p); err != nil {
		return Endpoint{}, err
	}
	if err := s.vet(ctx, in); err != nil {
		return Endpoint{}, err
	}
	var ep Endpoint
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if ep, err = page.Take[Endpoint](visible(tx, p), "webhook_endpoints", id, "webhook endpoint", true); err != nil {
			return err
		}
		if err := checkVersion(ep, ifVersion); err != nil {
			return err
		}
		if in.URL != nil {
			ep.URL = *in.URL
		}
		if in.EventTypes != nil {
			ep.EventTypes = *in.EventTypes
		}
		if in.Description != nil {
			ep.Description = *in.Description
		}
		if in.Enabled != nil && *in.Enabled != ep.Enabled {
			ep.Enabled = *in.Enabled
			ep.FailingSince, ep.DisabledReason = nil, nil
		}
		ep.Version++
		ep.UpdatedAt = s.now()
		return s.save(tx, ep)
	})
	return ep, err
}

func (s *Service) save(tx *gorm.DB, ep Endpoint) error {
	err := tx.Model(&Endpoint{}).Where("id = ?", ep.ID).Updates(map[string]any{
		"url": ep.URL, "event_types": ep.EventTypes, "enabled": ep.Enabled, "description": ep.Description,
		"secret": ep.Secret, "previous_secret": ep.PreviousSecret, "previous_secret_expires_at": ep.PreviousSecretExpiresAt,
		"failing_since": ep.FailingSince, "disabled_reason": ep.DisabledReason, "version": ep.Version, "updated_at": ep.UpdatedAt,
	}).Error
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

// Delete removes an endpoint and its deliveries; jobs still queued for
// them find nothing to do.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id uuid.UUID, ifVersion *int64) error {
	if err := allowed(p); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ep, err := page.Take[Endpoint](visible(tx, p), "webhook_endpoints", id, "webhook endpoint", true)
		if err != nil {
			return err
		}
		if err := checkVersion(ep, ifVersion); err != nil {
			return err
		}
		if err := tx.Delete(&Endpoint{}, "id = ?", id).Error; err != nil {
			return errs.Internal(err)
		}
		return nil
	})
}

// RotateSecret gives the endpoint a new secret, returned only now. The
// secret it replaces keeps signing, beside the new one, for 24 hours (a
// secret replaced earlier stops at once).
func (s *Service) RotateSecret(ctx context.Context, p auth.Principal, id uuid.UUID, ifVersion *int64) (Endpoint, string, error) {
	if err := allowed(p); err != nil {
		return Endpoint{}, "", err
	}
	var ep Endpoint
	var secret string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if ep, err = page.Take[Endpoint](visible(tx, p), "webhook_endpoints", id, "webhook endpoint", true); err != nil {
			return err
		}
		if err := checkVersion(ep, ifVersion); err != nil {
			return err
		}
		var key []byte
		if key, secret, err = newSecret(); err != nil {
			return errs.Internal(err)
		}
		sealed, err := s.box.Seal(key, secretContext(ep.ID))
		if err != nil {
			return errs.Internal(err)
		}
		now := s.now()
		expires := now.Add(RotationOverlap)
		ep.PreviousSecret, ep.PreviousSecretExpiresAt, ep.Secret = ep.Secret, &expires, sealed
		ep.Version++
		ep.UpdatedAt = now
		return s.save(tx, ep)
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return ep, secret, nil
}

// Deliveries returns a page of an endpoint's deliveries, oldest first.
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, endpointID uuid.UUID, f DeliveryFilter, r page.Request) ([]Delivery, string, error) {
	if _, err := s.Get(ctx, p, endpointID); err != nil {
		return nil, "", err
	}
	q := s.db.WithContext(ctx).Model(&Delivery{}).Where("endpoint_id = ?", endpointID)
	if f.Status != nil {
		q = q.Where("status = ?", *f.Status)
	}
	if f.EventType != nil {
		q = q.Where("event_type = ?", *f.EventType)
	}
	return page.Find(q, "webhook_deliveries", r, func(d Delivery) page.Key { return page.Key{CreatedAt: d.CreatedAt, ID: d.ID} })
}

// Redeliver tries a delivery that is not pending once more, with the same
// webhook-id and body: one try, not a new series.
func (s *Service) Redeliver(ctx context.Context, p auth.Principal, endpointID, deliveryID uuid.UUID) (Delivery, error) {
	if err := allowed(p); err != nil {
		return Delivery{}, err
	}
	if s.jobs == nil {
		return Delivery{}, errs.Internal(errors.New("webhook: jobs not wired"))
	}
	var d Delivery
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ep, err := page.Take[Endpoint](visible(tx, p), "webhook_endpoints", endpointID, "webhook endpoint", true)
		if err != nil {
			return err
		}
		if d, err = page.Take[Delivery](tx.Where("endpoint_id = ?", endpointID), "webhook_deliveries", deliveryID, "webhook delivery", true); err != nil {
			return err
		}
		if !ep.Enabled {
			return errs.Conflict("webhook_endpoint_disabled", "The endpoint is disabled; enable it first.")
		}
		if d.Status == StatusPending {
			return errs.Conflict("webhook_delivery_pending", "The delivery is still being tried.")
		}
		now := s.now()
		d.Status, d.NextAttemptAt, d.UpdatedAt = StatusPending, &now, now
		if err := tx.Model(&Delivery{}).Where("id = ?", d.ID).
			Updates(map[string]any{"status": d.Status, "next_attempt_at": now, "updated_at": now}).Error; err != nil {
			return errs.Internal(err)
		}
		if err := s.jobs.InsertTx(ctx, tx, DeliverArgs{DeliveryID: d.ID}, &river.InsertOpts{MaxAttempts: 1}); err != nil {
			return errs.Internal(err)
		}
		return nil
	})
	return d, err
}
