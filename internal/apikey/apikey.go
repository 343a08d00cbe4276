// Package apikey manages API keys for server-to-server callers such as
// storefronts: shown once, stored hashed, revocable.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

// Key is a stored API key (its secret only as a hash).
type Key struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	Name       string
	Prefix     string
	SecretHash []byte
	Role       auth.Role
	PartnerID  *uuid.UUID
	CreatedBy  *uuid.UUID
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName keeps GORM on the migration's table.
func (Key) TableName() string { return "api_keys" }

// Principal is the key as a caller.
func (k Key) Principal() auth.Principal {
	id := k.ID
	return auth.Principal{Kind: auth.KindAPIKey, Subject: k.ID.String(), APIKeyID: &id,
		Name: k.Name, Role: k.Role, PartnerID: k.PartnerID}
}

// lastUsedEvery bounds the writes that keeping last_used_at costs.
const lastUsedEvery = time.Minute

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Service is the API keys' unit of work.
type Service struct {
	db  *gorm.DB
	clk clock.Clock
}

// NewService wires the service.
func NewService(db *gorm.DB, clk clock.Clock) *Service { return &Service{db: db, clk: clk} }

// IsKey tells an API key from a JWT by its shape.
func IsKey(bearer string) bool { return strings.HasPrefix(bearer, "ak_") }

func notAlnum(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}

// Create makes a key for the caller's scope (or, for an admin, a partner's)
// and returns it with its secret, which is not kept.
func (s *Service) Create(ctx context.Context, p auth.Principal, name string, partnerID *uuid.UUID) (Key, string, error) {
	k := Key{ID: uuid.New(), Name: strings.TrimSpace(name), CreatedAt: s.clk.Now().Truncate(time.Microsecond)}
	switch {
	case p.Kind == auth.KindAPIKey:
		return Key{}, "", errs.Forbidden("forbidden", "API keys cannot create API keys.")
	case p.IsAdmin():
		k.Role = auth.RoleAdmin
		if partnerID != nil {
			k.Role, k.PartnerID = auth.RolePartner, partnerID
		}
	case p.Role == auth.RolePartner && p.PartnerID != nil:
		if partnerID != nil && *partnerID != *p.PartnerID {
			return Key{}, "", errs.Forbidden("partner_not_allowed", "Partners may create keys only for themselves.")
		}
		k.Role, k.PartnerID = auth.RolePartner, p.PartnerID
	default:
		return Key{}, "", errs.Forbidden("forbidden", "Your role may not create API keys.")
	}
	if p.Kind == auth.KindUser {
		k.CreatedBy = p.UserID
	}
	if partnerID != nil && p.IsAdmin() {
		var found bool
		if err := s.db.WithContext(ctx).Raw("SELECT EXISTS (SELECT 1 FROM partners WHERE id = ?)", *partnerID).Scan(&found).Error; err != nil {
			return Key{}, "", errs.Internal(err)
		}
		if !found {
			return Key{}, "", errs.Unprocessable("partner_not_found", "No partner has this id.").WithField("partner_id")
		}
	}
	var raw [26]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Key{}, "", errs.Internal(err)
	}
	k.Prefix = "ak_" + enc.EncodeToString(raw[:6])         // 10 chars, public
	secret := k.Prefix + "_" + enc.EncodeToString(raw[6:]) // 160 random bits after the prefix
	sum := sha256.Sum256([]byte(secret))
	k.SecretHash = sum[:]
	if err := s.db.WithContext(ctx).Create(&k).Error; err != nil {
		return Key{}, "", errs.Internal(err)
	}
	return k, secret, nil
}

func visible(q *gorm.DB, p auth.Principal) *gorm.DB {
	switch {
	case p.Kind == auth.KindAPIKey:
		return q.Where("false")
	case p.IsAdmin():
		return q
	case p.Role == auth.RolePartner && p.PartnerID != nil:
		return q.Where("api_keys.partner_id = ?", *p.PartnerID)
	default:
		return q.Where("false")
	}
}

// List returns a page of the keys the caller may see, revoked ones included.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) ([]Key, string, error) {
	var rows []Key
	if err := r.Apply(visible(s.db.WithContext(ctx).Model(&Key{}), p), "api_keys").Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	rows, next := page.Trim(r, rows, func(k Key) page.Key { return page.Key{CreatedAt: k.CreatedAt, ID: k.ID} })
	return rows, next, nil
}

// Revoke stops a key at once; revoking twice is a no-op.
func (s *Service) Revoke(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	res := visible(s.db.WithContext(ctx).Model(&Key{}), p).
		Where("api_keys.id = ?", id).
		Update("revoked_at", gorm.Expr("COALESCE(revoked_at, ?)", s.clk.Now()))
	if res.Error != nil {
		return errs.Internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return errs.NotFound("API key")
	}
	return nil
}

// Authenticate resolves a presented key to its principal.
func (s *Service) Authenticate(ctx context.Context, secret string) (auth.Principal, error) {
	bad := errs.Unauthenticated("unauthenticated", "Missing or invalid credentials.")
	prefix, _, ok := strings.Cut(strings.TrimPrefix(secret, "ak_"), "_")
	// Only what we issue reaches the database (other bytes, NUL or invalid
	// UTF-8, would be refused there as a 500).
	if !ok || len(prefix) != 10 || strings.IndexFunc(prefix, notAlnum) >= 0 {
		return auth.Principal{}, bad
	}
	var k Key
	err := s.db.WithContext(ctx).Take(&k, "prefix = ?", "ak_"+prefix).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return auth.Principal{}, bad
	}
	if err != nil {
		return auth.Principal{}, errs.Internal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], k.SecretHash) != 1 || k.RevokedAt != nil {
		return auth.Principal{}, bad
	}
	now := s.clk.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= lastUsedEvery {
		if err := s.db.WithContext(ctx).Model(&Key{}).
			Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", k.ID, now.Add(-lastUsedEvery)).
			Update("last_used_at", now).Error; err != nil {
			return auth.Principal{}, errs.Internal(err)
		}
	}
	return k.Principal(), nil
}
