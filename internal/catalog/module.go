package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Inspector tests vendor credentials and reads what the account offers.
type Inspector func(ctx context.Context, cred provisioning.Credentials) (provisioning.Offer, error)

// Sealer encrypts secrets at rest.
type Sealer interface {
	Seal(plain, context []byte) ([]byte, error)
	Open(sealed, context []byte) ([]byte, error)
}

// ItemGroups are offering item quotas, as common applications and
// independent ones (File Sync & Share, Notary).
type ItemGroups struct {
	Common      map[string]int64 `json:"common"`
	Independent map[string]int64 `json:"independent"`
}

// ModuleSettings are a plan's Acronis settings. The client secret is kept
// only encrypted.
type ModuleSettings struct {
	PlanID          uuid.UUID `gorm:"primaryKey"`
	DatacenterURL   string
	ClientID        string
	ClientSecretEnc []byte
	FreeTrial       bool
	StorageQuotaGB  *int
	OverageQuotaGB  *int
	Edition         string
	BackupLocation  string
	OfferingItems   []byte `gorm:"type:jsonb"`
	UpdatedAt       time.Time
}

// TableName keeps GORM on the migration's table.
func (ModuleSettings) TableName() string { return "plan_module_settings" }

// Items decodes the offering item quotas.
func (m ModuleSettings) Items() ItemGroups {
	var g ItemGroups
	_ = json.Unmarshal(m.OfferingItems, &g)
	if g.Common == nil {
		g.Common = map[string]int64{}
	}
	if g.Independent == nil {
		g.Independent = map[string]int64{}
	}
	return g
}

// ModuleInput is a save request; a nil ClientSecret keeps the stored one.
type ModuleInput struct {
	DatacenterURL, ClientID string
	ClientSecret            *string
	FreeTrial               bool
	StorageQuotaGB          *int
	OverageQuotaGB          *int
	Edition, BackupLocation string
	Common, Independent     map[string]float64
}

func secretContext(planID uuid.UUID) []byte { return []byte("plan-module:" + planID.String()) }

func wholeQuotas(group string, in map[string]float64) (map[string]int64, error) {
	out := map[string]int64{}
	for name, v := range in {
		if v != math.Trunc(v) || math.IsInf(v, 0) || math.IsNaN(v) || v < -1 || v > 1e15 {
			e := errs.Unprocessable("offering_item_quota_not_integer", "Offering item quotas are whole numbers (-1 for unlimited).")
			e.Fields = []errs.FieldError{{Field: "offering_items." + group + "." + name, Code: "offering_item_quota_not_integer", Message: "must be a whole number"}}
			return nil, e
		}
		out[name] = int64(v)
	}
	return out, nil
}

// SetModuleSettings checks the settings, tests them against the vendor and
// saves them; with valid pricing the plan becomes active.
func (s *Service) SetModuleSettings(ctx context.Context, planID uuid.UUID, in ModuleInput) (ModuleSettings, error) {
	plan, err := get[Plan](ctx, s.db, planID, "plan", false)
	if err != nil {
		return ModuleSettings{}, err
	}
	var g ProductGroup
	if err := s.db.WithContext(ctx).Take(&g, "id = ?", plan.ProductGroupID).Error; err != nil {
		return ModuleSettings{}, errs.Internal(err)
	}
	if g.Module != ModuleAcronis {
		return ModuleSettings{}, errs.Unprocessable("module_not_applicable", "This plan's product group has no provisioning module.")
	}
	if err := s.vetURL(ctx, in.DatacenterURL); err != nil {
		return ModuleSettings{}, err
	}
	// Quota rules: a hard quota needs a soft one; unlimited soft means unlimited hard.
	if in.OverageQuotaGB != nil && in.StorageQuotaGB == nil {
		return ModuleSettings{}, errs.Unprocessable("hard_quota_requires_soft_quota", "A hard quota (overage) needs a soft (storage) quota.")
	}
	if in.StorageQuotaGB != nil && *in.StorageQuotaGB == -1 {
		unlimited := -1
		in.OverageQuotaGB = &unlimited
	}
	common, err := wholeQuotas("common", in.Common)
	if err != nil {
		return ModuleSettings{}, err
	}
	independent, err := wholeQuotas("independent", in.Independent)
	if err != nil {
		return ModuleSettings{}, err
	}

	secret := ""
	if in.ClientSecret != nil {
		secret = *in.ClientSecret
	} else {
		cur, err := s.moduleSettings(ctx, s.db, planID)
		if err != nil {
			if errs.CodeOf(err) == "module_settings_not_set" {
				return ModuleSettings{}, errs.Invalid("client_secret", "required", "client_secret is required the first time")
			}
			return ModuleSettings{}, err
		}
		plain, err := s.box.Open(cur.ClientSecretEnc, secretContext(planID))
		if err != nil {
			return ModuleSettings{}, errs.Internal(err)
		}
		secret = string(plain)
	}

	offer, err := s.inspect(ctx, provisioning.Credentials{URL: in.DatacenterURL, ClientID: in.ClientID, ClientSecret: secret})
	switch {
	case errors.Is(err, provisioning.ErrBadCredentials):
		return ModuleSettings{}, errs.Unprocessable("vendor_credentials_invalid", "The vendor refused these API client credentials.")
	case err != nil:
		e := errs.E(errs.KindBadGateway, "vendor_unreachable", "The vendor could not be reached; nothing was saved.")
		e.Err = err
		return ModuleSettings{}, e
	}
	if err := checkOffer(offer, in.Edition, in.BackupLocation, common, independent); err != nil {
		return ModuleSettings{}, err
	}

	sealed, err := s.box.Seal([]byte(secret), secretContext(planID))
	if err != nil {
		return ModuleSettings{}, errs.Internal(err)
	}
	items, _ := json.Marshal(ItemGroups{Common: common, Independent: independent})
	m := ModuleSettings{PlanID: planID, DatacenterURL: strings.TrimRight(in.DatacenterURL, "/"), ClientID: in.ClientID,
		ClientSecretEnc: sealed, FreeTrial: in.FreeTrial, StorageQuotaGB: in.StorageQuotaGB, OverageQuotaGB: in.OverageQuotaGB,
		Edition: in.Edition, BackupLocation: in.BackupLocation, OfferingItems: items, UpdatedAt: s.now()}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		plan, err := get[Plan](ctx, tx, planID, "plan", true)
		if err != nil {
			return err
		}
		var pricing Pricing
		perr := tx.Take(&pricing, "plan_id = ?", planID).Error
		hasPricing := perr == nil
		if perr != nil && !errors.Is(perr, gorm.ErrRecordNotFound) {
			return errs.Internal(perr)
		}
		if hasPricing {
			if pricing.OveragePricePerGB != nil && !hasHardQuota(&m) {
				return errs.Unprocessable("overage_price_requires_hard_quota", "The plan's overage price needs a hard quota.")
			}
			if pricing.EnableQuantity && unlimitedSoft(&m) {
				return errs.Unprocessable("quantity_requires_finite_quota", "Quantity needs a finite storage quota.")
			}
		}
		if err := tx.Save(&m).Error; err != nil {
			return errs.Internal(err)
		}
		if hasPricing && plan.Status == PlanDraft {
			if err := s.activate(tx, planID); err != nil {
				return err
			}
		}
		return offersChanged(tx)
	})
	if err == nil {
		s.offers.clear()
	}
	return m, err
}

// vetURL refuses a datacenter_url the server must not call: not https
// (http only to loopback outside production), or an address that is not
// public (unless VENDOR_ALLOW_PRIVATE).
func (s *Service) vetURL(ctx context.Context, raw string) error {
	if s.checkURL == nil {
		return nil
	}
	err := s.checkURL(ctx, strings.TrimRight(raw, "/"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, egress.ErrScheme):
		return errs.Unprocessable("datacenter_url_not_https", "The datacenter URL must use https (http only to a loopback address, outside production).").
			WithField("datacenter_url")
	case errors.Is(err, egress.ErrAddress):
		return errs.Unprocessable("datacenter_url_not_allowed", "The datacenter URL's host is, or resolves to, a private, loopback, link-local or reserved address.").
			WithField("datacenter_url")
	default:
		return errs.Unprocessable("datacenter_url_invalid", "The datacenter URL must be an absolute http(s) URL with a host.").
			WithField("datacenter_url")
	}
}

// activate makes a draft plan active and gives it its order URLs.
func (s *Service) activate(tx *gorm.DB, planID uuid.UUID) error {
	err := tx.Model(&Plan{}).Where("id = ? AND status = ?", planID, PlanDraft).
		Updates(map[string]any{"status": PlanActive, "version": gorm.Expr("version + 1"), "updated_at": s.now()}).Error
	if err != nil {
		return errs.Internal(err)
	}
	return s.ensureOrderURLs(tx, planID)
}

func hasHardQuota(m *ModuleSettings) bool { return m != nil && m.OverageQuotaGB != nil }

func unlimitedSoft(m *ModuleSettings) bool {
	return m != nil && m.StorageQuotaGB != nil && *m.StorageQuotaGB == -1
}

// checkOffer refuses what the vendor account does not offer, listing what it does.
func checkOffer(o provisioning.Offer, edition, location string, groups ...map[string]int64) error {
	if !slices.Contains(o.Editions, edition) {
		e := errs.Unprocessable("edition_not_available", "The vendor offers these editions: "+strings.Join(o.Editions, ", ")+".")
		e.Fields = []errs.FieldError{{Field: "edition", Code: "edition_not_available", Message: "one of: " + strings.Join(o.Editions, ", ")}}
		return e
	}
	var names []string
	found := false
	for _, l := range o.Locations {
		names = append(names, l.ID+" ("+l.Name+")")
		if l.ID == location || strings.EqualFold(l.Name, location) {
			found = true
		}
	}
	if !found {
		e := errs.Unprocessable("location_not_available", "The vendor offers these backup locations: "+strings.Join(names, ", ")+".")
		e.Fields = []errs.FieldError{{Field: "backup_location", Code: "location_not_available", Message: "one of: " + strings.Join(names, ", ")}}
		return e
	}
	var missing []string
	for _, g := range groups {
		for name := range g {
			if !slices.Contains(o.OfferingItems, name) {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		e := errs.Unprocessable("offering_items_not_available", "The vendor account does not have these offering items enabled: "+strings.Join(missing, ", ")+".")
		for _, n := range missing {
			e.Fields = append(e.Fields, errs.FieldError{Field: "offering_items." + n, Code: "offering_item_not_available", Message: "not enabled at the vendor"})
		}
		return e
	}
	return nil
}

func (s *Service) moduleSettings(ctx context.Context, db *gorm.DB, planID uuid.UUID) (*ModuleSettings, error) {
	var m ModuleSettings
	err := db.WithContext(ctx).Take(&m, "plan_id = ?", planID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errs.E(errs.KindNotFound, "module_settings_not_set", "This plan has no module settings yet.")
	}
	if err != nil {
		return nil, errs.Internal(err)
	}
	return &m, nil
}

// GetModuleSettings reads a plan's settings (the secret stays sealed).
func (s *Service) GetModuleSettings(ctx context.Context, planID uuid.UUID) (ModuleSettings, error) {
	if _, err := get[Plan](ctx, s.db, planID, "plan", false); err != nil {
		return ModuleSettings{}, err
	}
	m, err := s.moduleSettings(ctx, s.db, planID)
	if err != nil {
		return ModuleSettings{}, err
	}
	return *m, nil
}

// Credentials reads a plan's module settings with the vendor secret opened,
// for provisioning. A plan without settings is 422 module_settings_not_set.
func (s *Service) Credentials(ctx context.Context, planID uuid.UUID) (ModuleSettings, provisioning.Credentials, error) {
	m, err := s.moduleSettings(ctx, s.db, planID)
	if err != nil {
		if errs.CodeOf(err) == "module_settings_not_set" {
			return ModuleSettings{}, provisioning.Credentials{}, errs.Unprocessable("module_settings_not_set", "This plan has no module settings.")
		}
		return ModuleSettings{}, provisioning.Credentials{}, err
	}
	plain, err := s.box.Open(m.ClientSecretEnc, secretContext(planID))
	if err != nil {
		return ModuleSettings{}, provisioning.Credentials{}, errs.Internal(err)
	}
	return *m, provisioning.Credentials{URL: m.DatacenterURL, ClientID: m.ClientID, ClientSecret: string(plain)}, nil
}
