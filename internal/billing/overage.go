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

// InvoiceOverage is storage over quota billed on request, or at a change of
// plan, quantity or term.
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
	days, err := s.overageUsage(ctx, s.db, b, today)
	if err != nil {
		return nil, err
	}
	taxes, err := s.taxesOf(ctx, s.db, []uuid.UUID{b.ProductGroupID})
	if err != nil {
		return nil, err
	}
	invs, _ := s.overageBills(b, today, days, taxes[b.ProductGroupID])
	if preview || len(invs) == 0 {
		return append([]Invoice{}, invs...), nil
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
	return append([]Invoice{}, stored...), nil
}

// overageAtChangeTx bills, in the transaction of a plan, quantity or term
// change, the overage of the days before today not billed yet, by the
// quota and price in force on them: b is the service as it was before the
// change. Each party's window is claimed whether or not storage went over,
// so the days from the change on are judged by the new terms only. A
// trial's days are closed without a bill: a trial is free.
func (s *Service) overageAtChangeTx(ctx context.Context, tx *gorm.DB, b billable) ([]Invoice, error) {
	if !overageApplies(b) {
		return nil, nil
	}
	through := s.Today().AddDate(0, 0, -1)
	var invs []Invoice
	var quiet []overageClaim
	if b.FreeTrial {
		for _, party := range []string{PartyCustomer, PartyPartner} {
			if party == PartyPartner && (b.PartnerID == nil || b.UnitCost == nil) {
				continue
			}
			for _, sp := range overageWindow(b, party, time.Time{}, through) {
				quiet = append(quiet, overageClaim{ServiceID: b.ID, Party: party, FirstDay: sp.from, LastDay: sp.to})
			}
		}
	} else {
		days, err := s.overageUsage(ctx, tx, b, through)
		if err != nil {
			return nil, err
		}
		taxes, err := s.taxesOf(ctx, tx, []uuid.UUID{b.ProductGroupID})
		if err != nil {
			return nil, err
		}
		invs, quiet = s.overageBills(b, through, days, taxes[b.ProductGroupID])
	}
	if len(quiet) > 0 {
		if err := tx.Create(&quiet).Error; err != nil {
			return nil, errs.Conflict("already_billed", "An overage window of this service is billed already.")
		}
	}
	return s.insert(ctx, tx, invs)
}

// overageUsage is a service's daily storage from the first day not billed
// for overage to one of its parties, up to through.
func (s *Service) overageUsage(ctx context.Context, db *gorm.DB, b billable, through time.Time) ([]dayValue, error) {
	var since time.Time
	for _, party := range []string{PartyCustomer, PartyPartner} {
		if w := overageWindow(b, party, time.Time{}, through); len(w) > 0 && (since.IsZero() || w[0].from.Before(since)) {
			since = w[0].from
		}
	}
	if since.IsZero() {
		return nil, nil
	}
	usage, err := s.usageIn(ctx, db, []string{*b.VendorTenantID}, since, through)
	if err != nil {
		return nil, err
	}
	return usage[*b.VendorTenantID][*b.StorageItem], nil
}

// overageBills are a service's overage invoices up to through: its
// customer's and, for a partner sale, the partner's at cost, each over the
// days not billed to that party yet (since a month billed post-paid, a
// renewal, a change or an earlier request). A party whose storage stayed
// under quota gets no invoice; its window comes back in quiet, for a
// caller that closes it anyway.
func (s *Service) overageBills(b billable, through time.Time, days []dayValue, t []Tax) (invs []Invoice, quiet []overageClaim) {
	today := s.Today()
	for _, d := range drafts(b, InvoiceOverage, "overage", today, today, today, today.AddDate(0, 0, s.cfg.TermsDays), false, t, nil) {
		w := overageWindow(b, d.Party, time.Time{}, through)
		if len(w) == 0 {
			continue
		}
		from, to := w[0].from, w[len(w)-1].to
		l, ok := overageLine(b, d.Party, w, days, t)
		if !ok {
			for _, sp := range w {
				quiet = append(quiet, overageClaim{ServiceID: b.ID, Party: d.Party, FirstDay: sp.from, LastDay: sp.to})
			}
			continue
		}
		d.Key = fmt.Sprintf("overage:%s:%s:%s", b.ID, dateStr(from), d.Party)
		d.PeriodStart, d.PeriodEnd = from, to
		d.Lines, d.Unclaimed = []Line{l}, true
		d.Overage = []Window{window(b, w, days, t)}
		invs = append(invs, s.build(d))
	}
	return invs, quiet
}

// window is the days [from, to] of a service's storage a bill looks at for
// overage, with what is needed to look at it again as it is stored.
func window(b billable, spans []span, days []dayValue, t []Tax) Window {
	return Window{ServiceID: b.ID, Spans: spans, days: days, taxes: t}
}

type partyDay struct {
	service uuid.UUID
	party   string
}

// reclaim looks again at the overage windows invoices claim, in the
// storing transaction and under a lock on their services (every path that
// claims windows stores through here, and a change holds the lock from the
// start): days claimed since the bill was drafted (by a change, a request
// or another run) are left out, the line is computed again over what is
// left of the window by the service as it is now, and a bill left with no
// line is not stored. So a bill is never refused for a window claimed
// meanwhile, and no day is billed twice.
func (s *Service) reclaim(ctx context.Context, tx *gorm.DB, invs []Invoice) ([]Invoice, error) {
	seen := map[uuid.UUID]bool{}
	var ids []uuid.UUID
	for _, inv := range invs {
		if inv.draft == nil {
			continue
		}
		for _, w := range inv.draft.Overage {
			if !seen[w.ServiceID] {
				seen[w.ServiceID] = true
				ids = append(ids, w.ServiceID)
			}
		}
	}
	if len(ids) == 0 {
		return invs, nil
	}
	var locked []uuid.UUID
	if err := tx.Raw("SELECT id FROM services WHERE id IN ? ORDER BY id FOR NO KEY UPDATE", ids).Scan(&locked).Error; err != nil {
		return nil, errs.Internal(err)
	}
	// The windows claimed now that may meet the drafted ones.
	first := time.Time{}
	for _, inv := range invs {
		if inv.draft == nil {
			continue
		}
		for _, w := range inv.draft.Overage {
			if f := w.Spans[0].from; first.IsZero() || f.Before(first) {
				first = f
			}
		}
	}
	var rows []struct {
		ServiceID         uuid.UUID
		Party             string
		FirstDay, LastDay time.Time
	}
	if err := tx.Raw(`SELECT service_id, party, first_day, last_day FROM overage_windows
		WHERE service_id IN ? AND last_day >= ? ORDER BY service_id, party, first_day`, ids, first).Scan(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	claimed := map[partyDay][]span{}
	for _, r := range rows {
		k := partyDay{r.ServiceID, r.Party}
		claimed[k] = append(claimed[k], span{r.FirstDay, r.LastDay})
	}
	// left is what of a window no one has claimed; changed when some was.
	left := func(w Window, party string) (rest []span, changed bool) {
		rest = cutSpans(w.Spans, claimed[partyDay{w.ServiceID, party}])
		if len(rest) != len(w.Spans) {
			return rest, true
		}
		for i := range rest {
			if rest[i] != w.Spans[i] {
				return rest, true
			}
		}
		return rest, false
	}
	stale := map[uuid.UUID]bool{}
	for _, inv := range invs {
		if inv.draft == nil {
			continue
		}
		for _, w := range inv.draft.Overage {
			if _, changed := left(w, inv.draft.Party); changed {
				stale[w.ServiceID] = true
			}
		}
	}
	if len(stale) == 0 {
		return invs, nil
	}
	// The services as they are now: a change since the bill was drafted
	// may have moved their quota.
	var fresh []billable
	if err := tx.WithContext(ctx).Raw(billableSelect+" WHERE s.id IN ?", keys(stale)).Scan(&fresh).Error; err != nil {
		return nil, errs.Internal(err)
	}
	now := map[uuid.UUID]billable{}
	for _, b := range fresh {
		now[b.ID] = b
	}
	out := invs[:0:0]
	for _, inv := range invs {
		if inv.draft == nil {
			out = append(out, inv)
			continue
		}
		d := *inv.draft
		changed := false
		lines := append([]Line(nil), d.Lines...)
		var keep []Window
		for _, w := range d.Overage {
			rest, moved := left(w, d.Party)
			if !moved {
				keep = append(keep, w)
				continue
			}
			changed = true
			at := overageLineOf(lines, w.ServiceID)
			w.Spans = rest
			b, ok := now[w.ServiceID]
			if len(rest) == 0 || !ok || !overageApplies(b) {
				if at >= 0 {
					lines = append(lines[:at], lines[at+1:]...)
				}
				continue
			}
			keep = append(keep, w)
			l, over := overageLine(b, d.Party, w.Spans, w.days, w.taxes)
			switch {
			case at >= 0 && over:
				lines[at] = l
			case at >= 0:
				lines = append(lines[:at], lines[at+1:]...)
			case over:
				lines = append(lines, l)
			}
		}
		if !changed {
			out = append(out, inv)
			continue
		}
		d.Lines, d.Overage = lines, keep
		if d.Kind == InvoiceOverage && len(keep) > 0 {
			d.PeriodStart = keep[0].Spans[0].from
		}
		if len(lines) == 0 {
			continue
		}
		out = append(out, s.buildAs(inv.ID, d))
	}
	return out, nil
}

// overageLineOf is the position of a service's overage line, or -1.
func overageLineOf(lines []Line, service uuid.UUID) int {
	for i, l := range lines {
		if l.Kind == KindOverage && l.ServiceID != nil && *l.ServiceID == service {
			return i
		}
	}
	return -1
}
