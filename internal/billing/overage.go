package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
)

// InvoiceOverage is storage over quota billed on request.
const InvoiceOverage = "overage"

// BillOverage bills a service's storage over its soft quota since overage
// was last billed, up to today: its customer's invoice and, for a partner
// sale, the partner's at cost. With preview it computes the same without
// storing anything. Nothing over quota gives no invoice.
func (s *Service) BillOverage(ctx context.Context, who auth.Principal, serviceID uuid.UUID, preview bool) ([]Invoice, error) {
	var b billable
	if err := s.db.WithContext(ctx).Raw(billableSelect+" WHERE s.id = ?", serviceID).Scan(&b).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if b.ID == uuid.Nil || !(who.IsAdmin() || (who.Role == auth.RolePartner && who.PartnerID != nil && b.PartnerID != nil && *b.PartnerID == *who.PartnerID)) {
		return nil, errs.NotFound("service")
	}
	if b.Status != "active" && b.Status != "suspended" && b.Status != "terminated" {
		return nil, errs.Conflict("service_not_provisioned", "This service has no usage to bill.")
	}
	if !overageApplies(b) {
		return nil, errs.Unprocessable("overage_not_applicable", "This service has no finite storage quota with an overage price.")
	}
	today := s.Today()
	var since time.Time
	for _, party := range []string{PartyCustomer, PartyPartner} {
		if from, _, ok := overageWindow(b, party, time.Time{}, today); ok && (since.IsZero() || from.Before(since)) {
			since = from
		}
	}
	if since.IsZero() {
		return []Invoice{}, nil
	}
	usage, err := s.usage(ctx, []string{*b.VendorTenantID}, since, today)
	if err != nil {
		return nil, err
	}
	taxes, err := s.taxesOf(ctx, s.db, []uuid.UUID{b.ProductGroupID})
	if err != nil {
		return nil, err
	}
	t := taxes[b.ProductGroupID]
	invs := []Invoice{}
	for _, d := range drafts(b, InvoiceOverage, "overage", today, today, today, today.AddDate(0, 0, s.cfg.TermsDays), false, t, nil) {
		// Each party's window since it was last billed to it (a month
		// billed post-paid, a renewal, an earlier request).
		from, to, ok := overageWindow(b, d.Party, time.Time{}, today)
		if !ok {
			continue
		}
		l, ok := overageLine(b, d.Party, from, to, usage[*b.VendorTenantID][*b.StorageItem], t)
		if !ok {
			continue
		}
		d.Key = fmt.Sprintf("overage:%s:%s:%s", b.ID, dateStr(from), d.Party)
		d.PeriodStart, d.PeriodEnd = from, to
		d.Lines, d.Unclaimed = []Line{l}, true
		d.Overage = []Window{{ServiceID: b.ID, From: from, To: to}}
		invs = append(invs, s.build(d))
	}
	if preview || len(invs) == 0 {
		return invs, nil
	}
	var stored []Invoice
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		stored, err = s.insert(ctx, tx, invs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}
