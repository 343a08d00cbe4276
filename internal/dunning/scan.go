package dunning

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/subscription"
)

// planned is an action a scan found due.
type planned struct {
	Action
	offset     int        // reminder: days from the due date
	templateID *uuid.UUID // reminder: the plan's template
	suspendAt  int        // suspend: suspension_days
}

func (s *Service) planned(kind, key string, set func(a *Action)) planned {
	now := s.now()
	a := Action{ID: uuid.New(), Key: key, Kind: kind, Status: ActionPending, CreatedAt: now, UpdatedAt: now}
	set(&a)
	return planned{Action: a}
}

func (x *exec) do(ctx context.Context) error {
	for _, pass := range []func(context.Context) error{x.services, x.customers, x.liftCredit, x.partners} {
		if err := pass(ctx); err != nil {
			return err
		}
	}
	return nil
}

// dunned is a live service with its oldest unpaid invoice (when its plan
// dunns and its customer is not paused).
type dunned struct {
	ID, CustomerID     uuid.UUID
	Status             string
	InvoiceID          *uuid.UUID
	DueDate            *time.Time
	SuspensionDays     *int
	TerminationDays    *int
	ReminderDays       pq.Int64Array `gorm:"type:integer[]"`
	ReminderTemplateID *uuid.UUID
}

// servicesBatch reads the next live services after `after`, each with its
// oldest unpaid invoice: one statement per batch, through the index of
// each service's invoice lines.
const servicesBatch = `
SELECT s.id, s.customer_id, s.status, o.invoice_id, o.due_date, ns.suspension_days, ns.termination_days,
       ns.reminder_days, ns.reminder_template_id
FROM (SELECT id, customer_id, plan_id, status FROM services
      WHERE status IN ('active', 'suspended') AND id > ? ORDER BY id LIMIT ?) s
JOIN customers c ON c.id = s.customer_id
LEFT JOIN plan_notification_settings ns ON ns.plan_id = s.plan_id
LEFT JOIN LATERAL (
    SELECT i.id AS invoice_id, i.due_date FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
    WHERE l.service_id = s.id AND i.status = 'unpaid' AND i.customer_id IS NOT NULL AND i.due_date IS NOT NULL
    ORDER BY i.due_date, i.issue_date, i.number LIMIT 1) o
  ON ns.plan_id IS NOT NULL AND (c.dunning_paused_until IS NULL OR c.dunning_paused_until < ?)
ORDER BY s.id`

// services reminds, suspends and terminates services by their oldest
// unpaid invoice.
func (x *exec) services(ctx context.Context) error {
	day := x.run.AsOf
	var after uuid.UUID
	for {
		var batch []dunned
		if err := x.s.db.WithContext(ctx).Raw(servicesBatch, after, x.s.cfg.Batch, day).Scan(&batch).Error; err != nil {
			return errs.Internal(err)
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].ID
		x.add(func(c *counts) { c.checked += len(batch) })
		var ps []planned
		for _, d := range batch {
			ps = append(ps, x.s.planService(d, day)...)
		}
		if err := x.act(ctx, ps); err != nil {
			return err
		}
	}
}

// planService is what is due for a service on day: termination at
// termination_days past due, else suspension at suspension_days (of an
// active service), and the reminder of the latest offset reached.
func (s *Service) planService(d dunned, day time.Time) []planned {
	if d.InvoiceID == nil || d.DueDate == nil || d.SuspensionDays == nil || d.TerminationDays == nil {
		return nil
	}
	past := int(day.Sub(*d.DueDate).Hours() / 24)
	svc, cust, inv := d.ID, d.CustomerID, *d.InvoiceID
	set := func(a *Action) { a.ServiceID, a.CustomerID, a.InvoiceID = &svc, &cust, &inv }
	if past >= *d.TerminationDays {
		return []planned{s.planned(KindTerminate, fmt.Sprintf("terminate:%s:%s", svc, inv), set)}
	}
	var out []planned
	if past >= *d.SuspensionDays && d.Status == subscription.StatusActive {
		p := s.planned(KindSuspend, fmt.Sprintf("suspend:%s:%s", svc, inv), set)
		p.suspendAt = *d.SuspensionDays
		out = append(out, p)
	}
	offsets := slices.Clone([]int64(d.ReminderDays))
	slices.Sort(offsets)
	latest, found := int64(0), false
	for _, o := range offsets {
		if o <= int64(past) {
			latest, found = o, true
		}
	}
	if found {
		p := s.planned(KindReminder, fmt.Sprintf("reminder:%s:%d", inv, latest), set)
		p.offset, p.templateID = int(latest), d.ReminderTemplateID
		out = append(out, p)
	}
	return out
}

// limited is a customer or partner with a credit limit (or flagged over
// one) and what it owes unpaid.
type limited struct {
	ID                    uuid.UUID
	CreditLimit           decimal.NullDecimal
	CreditLimitExceededAt *time.Time
	DunningPausedUntil    *time.Time
	Balance               decimal.Decimal
}

func (l limited) over() bool {
	return l.CreditLimit.Valid && l.Balance.GreaterThan(l.CreditLimit.Decimal)
}

func (l limited) paused(day time.Time) bool {
	return l.DunningPausedUntil != nil && !l.DunningPausedUntil.Before(day)
}

// crossings counts the alerts sent to each of ids (kind, by column).
func (x *exec) crossings(ctx context.Context, kind, column string, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	out := map[uuid.UUID]int{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID uuid.UUID
		N  int
	}
	if err := x.s.db.WithContext(ctx).Raw(`SELECT `+column+` AS id, count(*) AS n FROM dunning_actions
		WHERE kind = ? AND outcome = ? AND `+column+` IN ? GROUP BY 1`, kind, OutcomeSent, ids).Scan(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}

// customers alerts the customers that went above their credit limit
// (once per crossing), suspends their services whose plan says so, and
// clears the flag of those back within.
func (x *exec) customers(ctx context.Context) error {
	day := x.run.AsOf
	var after uuid.UUID
	for {
		var batch []limited
		err := x.s.db.WithContext(ctx).Raw(`SELECT c.id, c.credit_limit, c.credit_limit_exceeded_at, c.dunning_paused_until,
			coalesce((SELECT sum(i.total - i.amount_paid) FROM invoices i WHERE i.status = 'unpaid' AND i.customer_id = c.id), 0) AS balance
			FROM customers c WHERE (c.credit_limit IS NOT NULL OR c.credit_limit_exceeded_at IS NOT NULL) AND c.id > ?
			ORDER BY c.id LIMIT ?`, after, x.s.cfg.Batch).Scan(&batch).Error
		if err != nil {
			return errs.Internal(err)
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].ID
		x.add(func(c *counts) { c.checked += len(batch) })
		var over []uuid.UUID
		for _, c := range batch {
			switch {
			case c.paused(day):
			case c.over():
				over = append(over, c.ID)
			case c.CreditLimitExceededAt != nil:
				if err := x.s.clearCustomerFlag(ctx, c.ID); err != nil {
					return err
				}
			}
		}
		sent, err := x.crossings(ctx, KindCreditAlert, "customer_id", over)
		if err != nil {
			return err
		}
		var ps []planned
		crossing := map[uuid.UUID]int{}
		byID := map[uuid.UUID]limited{}
		for _, c := range batch {
			byID[c.ID] = c
		}
		for _, id := range over {
			n := sent[id]
			if byID[id].CreditLimitExceededAt == nil {
				n++
				cust := id
				ps = append(ps, x.s.planned(KindCreditAlert, fmt.Sprintf("credit_alert:%s:%d", id, n), func(a *Action) { a.CustomerID = &cust }))
			}
			crossing[id] = n
		}
		if len(over) > 0 {
			var svcs []struct{ ID, CustomerID uuid.UUID }
			err := x.s.db.WithContext(ctx).Raw(`SELECT s.id, s.customer_id FROM services s
				JOIN plan_notification_settings ns ON ns.plan_id = s.plan_id AND ns.suspend_on_credit_limit
				WHERE s.customer_id IN ? AND s.status = 'active' ORDER BY s.id`, over).Scan(&svcs).Error
			if err != nil {
				return errs.Internal(err)
			}
			for _, v := range svcs {
				svc, cust := v.ID, v.CustomerID
				ps = append(ps, x.s.planned(KindCreditSuspend, fmt.Sprintf("credit_suspend:%s:%d", svc, crossing[cust]),
					func(a *Action) { a.ServiceID, a.CustomerID = &svc, &cust }))
			}
		}
		if err := x.act(ctx, ps); err != nil {
			return err
		}
	}
}

// liftCredit makes the services suspended for their customer's credit
// limit active again once the customer is within it (or has no limit).
func (x *exec) liftCredit(ctx context.Context) error {
	var after uuid.UUID
	for {
		var batch []struct {
			ID, CustomerID uuid.UUID
			Over           bool
		}
		err := x.s.db.WithContext(ctx).Raw(`SELECT s.id, s.customer_id,
			coalesce(c.credit_limit < (SELECT sum(i.total - i.amount_paid) FROM invoices i WHERE i.status = 'unpaid' AND i.customer_id = c.id), false) AS over
			FROM services s JOIN customers c ON c.id = s.customer_id
			WHERE s.suspension_reason = 'credit_limit' AND s.status = 'suspended' AND s.id > ? ORDER BY s.id LIMIT ?`,
			after, x.s.cfg.Batch).Scan(&batch).Error
		if err != nil {
			return errs.Internal(err)
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].ID
		var within []uuid.UUID
		for _, v := range batch {
			if !v.Over {
				within = append(within, v.CustomerID)
			}
		}
		sent, err := x.crossings(ctx, KindCreditAlert, "customer_id", within)
		if err != nil {
			return err
		}
		var ps []planned
		for _, v := range batch {
			if v.Over {
				continue
			}
			svc, cust := v.ID, v.CustomerID
			ps = append(ps, x.s.planned(KindCreditUnsuspend, fmt.Sprintf("credit_unsuspend:%s:%d", svc, sent[cust]),
				func(a *Action) { a.ServiceID, a.CustomerID = &svc, &cust }))
		}
		if err := x.act(ctx, ps); err != nil {
			return err
		}
	}
}

// partners alerts the partners whose unpaid bills went above their
// credit limit (once per crossing) and clears the flag of those back
// within. Their own services keep running; their new orders are refused.
func (x *exec) partners(ctx context.Context) error {
	var after uuid.UUID
	for {
		var batch []limited
		err := x.s.db.WithContext(ctx).Raw(`SELECT p.id, p.credit_limit, p.credit_limit_exceeded_at,
			coalesce((SELECT sum(i.total - i.amount_paid) FROM invoices i WHERE i.status = 'unpaid' AND i.partner_id = p.id), 0) AS balance
			FROM partners p WHERE (p.credit_limit IS NOT NULL OR p.credit_limit_exceeded_at IS NOT NULL) AND p.id > ?
			ORDER BY p.id LIMIT ?`, after, x.s.cfg.Batch).Scan(&batch).Error
		if err != nil {
			return errs.Internal(err)
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].ID
		x.add(func(c *counts) { c.checked += len(batch) })
		var over []uuid.UUID
		for _, p := range batch {
			switch {
			case p.over() && p.CreditLimitExceededAt == nil:
				over = append(over, p.ID)
			case !p.over() && p.CreditLimitExceededAt != nil:
				if err := x.s.clearPartnerFlag(ctx, p.ID); err != nil {
					return err
				}
			}
		}
		sent, err := x.crossings(ctx, KindPartnerCreditAlert, "partner_id", over)
		if err != nil {
			return err
		}
		var ps []planned
		for _, id := range over {
			pid := id
			ps = append(ps, x.s.planned(KindPartnerCreditAlert, fmt.Sprintf("partner_credit_alert:%s:%d", id, sent[id]+1),
				func(a *Action) { a.PartnerID = &pid }))
		}
		if err := x.act(ctx, ps); err != nil {
			return err
		}
	}
}
