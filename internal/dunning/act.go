package dunning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/credit"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/subscription"
)

// act inserts the planned actions by key (those found are kept), claims
// those not done and not held by another run, and carries them out,
// Workers at a time. The batch's counts then go to the run row.
func (x *exec) act(ctx context.Context, ps []planned) error {
	if len(ps) == 0 {
		return x.flush(ctx)
	}
	db := x.s.db.WithContext(ctx)
	keys := make([]string, 0, len(ps))
	byKey := make(map[string]planned, len(ps))
	for _, p := range ps {
		if _, ok := byKey[p.Key]; ok { // an invoice of two services: one reminder
			continue
		}
		keys, byKey[p.Key] = append(keys, p.Key), p
	}
	// Done by an earlier run (a suspended service's latest reminder, day
	// after day): neither inserted nor claimed again.
	var done []string
	if err := db.Raw(`SELECT key FROM dunning_actions WHERE key IN ? AND status = ?`, keys, ActionDone).Scan(&done).Error; err != nil {
		return errs.Internal(err)
	}
	for _, k := range done {
		delete(byKey, k)
	}
	if len(byKey) == 0 {
		return x.flush(ctx)
	}
	keys = keys[:0]
	rows := make([]Action, 0, len(byKey))
	for _, p := range ps {
		if q, ok := byKey[p.Key]; ok && q.ID == p.ID {
			keys, rows = append(keys, p.Key), append(rows, p.Action)
		}
	}
	if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).CreateInBatches(rows, 500).Error; err != nil {
		return errs.Internal(err)
	}
	now := x.s.now()
	var claimed []Action
	// A claim holds until its lease ends, or until its run is known to
	// have stopped (interrupted once its heartbeat went stale, failed).
	if err := db.Raw(`UPDATE dunning_actions SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1, updated_at = ?
		WHERE key IN ? AND status <> ? AND (claimed_until IS NULL OR claimed_until < ? OR claimed_by = ?
		  OR NOT EXISTS (SELECT 1 FROM dunning_runs r WHERE r.id = dunning_actions.claimed_by AND r.status = ?))
		RETURNING *`, x.run.ID, now.Add(x.s.cfg.Lease), now, keys, ActionDone, now, x.run.ID, RunRunning).Scan(&claimed).Error; err != nil {
		return errs.Internal(err)
	}
	sem := make(chan struct{}, x.s.cfg.Workers)
	errc := make(chan error, len(claimed))
	for _, a := range claimed {
		p := byKey[a.Key]
		p.Action = a
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if x.s.beforeAct != nil {
				x.s.beforeAct(a)
			}
			if ctx.Err() != nil {
				errc <- ctx.Err()
				return
			}
			errc <- x.one(ctx, p)
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errc)
	var first error
	for err := range errc {
		if err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return x.flush(ctx)
}

// one carries out an action and records what came of it. Only an error
// of the database (or a stop) ends the run; a vendor's or a rule's marks
// the action failed, to be tried by the next run.
func (x *exec) one(ctx context.Context, p planned) error {
	var outcome string
	var recorded bool // done in the transaction of its change
	var err error
	switch p.Kind {
	case KindReminder:
		outcome, err = x.s.remind(ctx, x.run, p)
	case KindCreditAlert:
		outcome, err = x.s.alertCustomer(ctx, x.run, p.Action)
	case KindPartnerCreditAlert:
		outcome, err = x.s.alertPartner(ctx, x.run, p.Action)
	case KindSuspend, KindTerminate, KindCreditSuspend, KindCreditUnsuspend:
		outcome, recorded, err = x.s.change(ctx, x.run, p)
	default:
		err = errs.Internal(fmt.Errorf("dunning: unknown action kind %q", p.Kind))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errNotYet) {
		// Not due after all (a crossing gone): left for a later crossing.
		x.add(func(c *counts) { c.skipped++ })
		return x.s.record(ctx, x.run, p.Action, ResultSkipped, subscription.OutcomeNotDue, "")
	}
	if err != nil {
		// A vendor's failure, a service busy with another operation...:
		// the action is failed on this run and the next tries it again.
		// Failing to record that (the database gone) ends the run.
		x.add(func(c *counts) {
			c.failed++
			c.failures = append(c.failures, Failure{What: what(p.Action), Reason: err.Error()})
		})
		return x.s.record(ctx, x.run, p.Action, ActionFailed, "", err.Error())
	}
	x.add(func(c *counts) {
		switch {
		case outcome == OutcomeSent && p.Kind == KindReminder:
			c.reminders++
		case outcome == OutcomeSent:
			c.alerts++
		case outcome != subscription.OutcomeApplied:
			c.skipped++
		case p.Kind == KindSuspend || p.Kind == KindCreditSuspend:
			c.suspended++
		case p.Kind == KindTerminate:
			c.terminated++
		case p.Kind == KindCreditUnsuspend:
			c.unsuspended++
		}
	})
	if recorded || p.Kind == KindReminder || p.Kind == KindCreditAlert || p.Kind == KindPartnerCreditAlert {
		return nil // recorded in its own transaction
	}
	return x.s.record(ctx, x.run, p.Action, ActionDone, outcome, "")
}

// errNotYet: an alert found, in its transaction, nothing to alert.
var errNotYet = errors.New("dunning: not due")

func what(a Action) string {
	switch {
	case a.ServiceID != nil && a.Kind != KindReminder:
		return a.Kind + " service " + a.ServiceID.String()
	case a.InvoiceID != nil:
		return a.Kind + " invoice " + a.InvoiceID.String()
	case a.CustomerID != nil:
		return a.Kind + " customer " + a.CustomerID.String()
	case a.PartnerID != nil:
		return a.Kind + " partner " + a.PartnerID.String()
	}
	return a.Kind
}

// record writes what a run did to an action: the action's new status
// (done, or failed and released for the next run; a skip leaves it
// pending and released) and the run's row for it.
func (s *Service) record(ctx context.Context, run Run, a Action, result, outcome, reason string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return s.recordTx(tx, run, a, result, outcome, reason)
	})
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

// recordIn is record in a transaction of the caller's.
func (s *Service) recordIn(ctx context.Context, tx *gorm.DB, run Run, a Action, result, outcome, reason string) error {
	if err := s.recordTx(tx.WithContext(ctx), run, a, result, outcome, reason); err != nil {
		return errs.Internal(err)
	}
	return nil
}

func (s *Service) recordTx(tx *gorm.DB, run Run, a Action, result, outcome, reason string) error {
	now := s.now()
	upd := map[string]any{"claimed_by": nil, "claimed_until": nil, "updated_at": now}
	switch result {
	case ActionDone:
		upd["status"], upd["outcome"], upd["done_at"], upd["last_error"] = ActionDone, outcome, now, nil
	case ActionFailed:
		upd["status"], upd["last_error"] = ActionFailed, reason
	}
	if err := tx.Model(&Action{}).Where("id = ?", a.ID).Updates(upd).Error; err != nil {
		return err
	}
	ra := RunAction{ID: uuid.New(), RunID: run.ID, ActionID: a.ID, Result: result, CreatedAt: now}
	if outcome != "" {
		ra.Outcome = &outcome
	}
	if reason != "" {
		ra.Error = &reason
	}
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "run_id"}, {Name: "action_id"}}, UpdateAll: true}).
		Omit("Key", "Kind", "ServiceID", "CustomerID", "PartnerID", "InvoiceID").Create(&ra).Error
}

// lockAction locks an action in tx and tells whether it is still to do.
func lockAction(tx *gorm.DB, id uuid.UUID) (bool, error) {
	var status string
	if err := tx.Raw(`SELECT status FROM dunning_actions WHERE id = ? FOR NO KEY UPDATE`, id).Scan(&status).Error; err != nil {
		return false, errs.Internal(err)
	}
	return status != ActionDone, nil
}

// paused tells whether a customer's dunning is paused on day.
func paused(tx *gorm.DB, customerID uuid.UUID, day time.Time) (bool, error) {
	var p bool
	err := tx.Raw(`SELECT coalesce(dunning_paused_until >= ?, false) FROM customers WHERE id = ?`, day, customerID).Scan(&p).Error
	if err != nil {
		return false, errs.Internal(err)
	}
	return p, nil
}

// remind mails a payment reminder of an invoice still unpaid, in one
// transaction with the action marked done.
func (s *Service) remind(ctx context.Context, run Run, p planned) (string, error) {
	outcome := OutcomeSent
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		todo, err := lockAction(tx, p.ID)
		if err != nil || !todo {
			outcome = subscription.OutcomeAlready
			return err
		}
		var inv billing.Invoice
		if err := tx.Take(&inv, "id = ?", *p.InvoiceID).Error; err != nil {
			return errs.Internal(err)
		}
		stop, err := paused(tx, *p.CustomerID, run.AsOf)
		if err != nil {
			return err
		}
		if inv.Status != billing.StatusUnpaid || stop {
			outcome = subscription.OutcomeNotDue
		} else {
			if err := tx.Where("invoice_id = ?", inv.ID).Order("position").Find(&inv.Lines).Error; err != nil {
				return errs.Internal(err)
			}
			if err := tx.Where("invoice_id = ?", inv.ID).Order("name").Find(&inv.Taxes).Error; err != nil {
				return errs.Internal(err)
			}
			r := Reminder{Invoice: inv, ServiceID: *p.ServiceID, Offset: p.offset, Day: run.AsOf, TemplateID: p.templateID}
			for _, h := range s.onReminder {
				if err := h(ctx, tx, r); err != nil {
					return err
				}
			}
		}
		return s.recordIn(ctx, tx, run, p.Action, ActionDone, outcome, "")
	})
	return outcome, err
}

// alertOnce runs an alert in one transaction with its action locked and
// marked done; body's errNotYet (within its limit, paused or flagged
// already) leaves the action for a later crossing.
func (s *Service) alertOnce(ctx context.Context, run Run, a Action, body func(tx *gorm.DB) error) (string, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		todo, err := lockAction(tx, a.ID)
		if err != nil {
			return err
		}
		if !todo {
			return errNotYet
		}
		if err := body(tx); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, run, a, ActionDone, OutcomeSent, "")
	})
	if err != nil {
		return "", err
	}
	return OutcomeSent, nil
}

// flag marks a customer or partner over its limit from now.
func (s *Service) flag(tx *gorm.DB, table string, id uuid.UUID) (time.Time, error) {
	now := s.now()
	if err := tx.Exec(`UPDATE `+table+` SET credit_limit_exceeded_at = ? WHERE id = ?`, now, id).Error; err != nil {
		return now, errs.Internal(err)
	}
	return now, nil
}

// alertCustomer flags a customer above its credit limit and alerts it
// (alertOnce).
func (s *Service) alertCustomer(ctx context.Context, run Run, a Action) (string, error) {
	return s.alertOnce(ctx, run, a, func(tx *gorm.DB) error {
		var c customer.Customer
		if err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Take(&c, "id = ?", *a.CustomerID).Error; err != nil {
			return errs.Internal(err)
		}
		over, balance, err := credit.CustomerOver(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if !over || c.CreditLimitExceededAt != nil || (c.DunningPausedUntil != nil && !c.DunningPausedUntil.Before(run.AsOf)) {
			return errNotYet
		}
		al := CreditAlert{Balance: balance, Limit: *c.CreditLimit, Currency: c.Currency}
		// The issuer and venture of its oldest unpaid invoice; the
		// credit-limit template of the plan of its first live service
		// that names one.
		var inv struct {
			VentureID       uuid.UUID
			IssuerPartnerID *uuid.UUID
		}
		if err := tx.Raw(`SELECT venture_id, issuer_partner_id FROM invoices WHERE customer_id = ? AND status = 'unpaid'
			ORDER BY due_date, issue_date, number LIMIT 1`, c.ID).Scan(&inv).Error; err != nil {
			return errs.Internal(err)
		}
		al.VentureID, al.IssuerPartnerID = inv.VentureID, inv.IssuerPartnerID
		if al.IssuerPartnerID == nil {
			al.IssuerPartnerID = c.PartnerID
		}
		var tpl struct{ ID *uuid.UUID }
		if err := tx.Raw(`SELECT ns.credit_limit_template_id AS id FROM services s JOIN plan_notification_settings ns ON ns.plan_id = s.plan_id
			WHERE s.customer_id = ? AND s.status IN ('active', 'suspended') AND ns.credit_limit_template_id IS NOT NULL
			ORDER BY s.created_at, s.id LIMIT 1`, c.ID).Scan(&tpl).Error; err != nil {
			return errs.Internal(err)
		}
		al.TemplateID = tpl.ID
		now, err := s.flag(tx, "customers", c.ID)
		if err != nil {
			return err
		}
		c.CreditLimitExceededAt = &now
		for _, h := range s.onCustomerAlert {
			if err := h(ctx, tx, c, al); err != nil {
				return err
			}
		}
		return nil
	})
}

// alertPartner is alertCustomer for a partner's bills with the SP.
func (s *Service) alertPartner(ctx context.Context, run Run, a Action) (string, error) {
	return s.alertOnce(ctx, run, a, func(tx *gorm.DB) error {
		var p partner.Partner
		if err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Take(&p, "id = ?", *a.PartnerID).Error; err != nil {
			return errs.Internal(err)
		}
		over, balance, err := credit.PartnerOver(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if !over || p.CreditLimitExceededAt != nil {
			return errNotYet
		}
		al := CreditAlert{Balance: balance, Limit: *p.CreditLimit, Currency: s.cfg.Currency}
		var inv struct{ VentureID uuid.UUID }
		if err := tx.Raw(`SELECT venture_id FROM invoices WHERE partner_id = ? AND status = 'unpaid'
			ORDER BY due_date, issue_date, number LIMIT 1`, p.ID).Scan(&inv).Error; err != nil {
			return errs.Internal(err)
		}
		al.VentureID = inv.VentureID
		now, err := s.flag(tx, "partners", p.ID)
		if err != nil {
			return err
		}
		p.CreditLimitExceededAt = &now
		for _, h := range s.onPartnerAlert {
			if err := h(ctx, tx, p, al); err != nil {
				return err
			}
		}
		return nil
	})
}

// clearCustomerFlag clears the flag of a customer back within its limit
// (checked again with the customer locked).
func (s *Service) clearCustomerFlag(ctx context.Context, id uuid.UUID) error {
	return s.clearFlag(ctx, "customers", id, credit.CustomerOver)
}

func (s *Service) clearPartnerFlag(ctx context.Context, id uuid.UUID) error {
	return s.clearFlag(ctx, "partners", id, credit.PartnerOver)
}

func (s *Service) clearFlag(ctx context.Context, table string, id uuid.UUID,
	over func(context.Context, *gorm.DB, uuid.UUID) (bool, decimal.Decimal, error)) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT 1 FROM `+table+` WHERE id = ? FOR NO KEY UPDATE`, id).Error; err != nil {
			return err
		}
		o, _, err := over(ctx, tx, id)
		if err != nil || o {
			return err
		}
		return tx.Exec(`UPDATE `+table+` SET credit_limit_exceeded_at = NULL WHERE id = ?`, id).Error
	})
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

// change suspends, terminates or unsuspends a service vendor first; the
// subscription package re-checks, with the service locked, that it is
// still due. The action is marked done in the transaction that applies
// the change (recorded true), so neither commits without the other; an
// outcome found before it (nothing to do) is left to the caller.
func (s *Service) change(ctx context.Context, run Run, p planned) (outcome string, recorded bool, err error) {
	by := "system:dunning:" + run.ID.String()
	then := func(ctx context.Context, tx *gorm.DB, vf subscription.VendorFirst) error {
		if err := s.recordIn(ctx, tx, run, p.Action, ActionDone, vf.Outcome, ""); err != nil {
			return err
		}
		recorded = true
		return nil
	}
	var vf subscription.VendorFirst
	switch p.Kind {
	case KindSuspend:
		vf, err = s.services.SuspendVendorFirst(ctx, *p.ServiceID, subscription.ReasonOverdue, by, s.overdue(run.AsOf, *p.InvoiceID, p.suspendAt), then)
	case KindTerminate:
		vf, err = s.services.TerminateVendorFirst(ctx, *p.ServiceID, by, s.overdue(run.AsOf, *p.InvoiceID, 0), then)
	case KindCreditSuspend:
		vf, err = s.services.SuspendVendorFirst(ctx, *p.ServiceID, subscription.ReasonCreditLimit, by, s.overLimit(run.AsOf, true), then)
	case KindCreditUnsuspend:
		vf, err = s.services.UnsuspendFor(ctx, *p.ServiceID, subscription.ReasonCreditLimit, by, s.overLimit(run.AsOf, false), then)
	}
	if err != nil {
		// A transaction rolled back after then ran recorded nothing.
		return "", false, err
	}
	return vf.Outcome, recorded, nil
}

// overdue: the invoice is still unpaid (at least after days past due) and
// the customer not paused.
func (s *Service) overdue(day time.Time, invoiceID uuid.UUID, days int) subscription.StillDue {
	return func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) (bool, error) {
		var due bool
		err := tx.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM invoices i JOIN customers c ON c.id = ?
			WHERE i.id = ? AND i.status = 'unpaid' AND i.due_date + ?::integer <= ?::date
			  AND (c.dunning_paused_until IS NULL OR c.dunning_paused_until < ?::date))`, v.CustomerID, invoiceID, days, day, day).Scan(&due).Error
		if err != nil {
			return false, errs.Internal(err)
		}
		return due, nil
	}
}

// overLimit: the customer is above its limit (want true, and not paused)
// or within it (want false).
func (s *Service) overLimit(day time.Time, want bool) subscription.StillDue {
	return func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) (bool, error) {
		over, _, err := credit.CustomerOver(ctx, tx, v.CustomerID)
		if err != nil {
			return false, err
		}
		if !want {
			if over {
				return false, nil
			}
			// Within the limit but past its plan's suspension_days on an
			// invoice: it stays suspended until that is paid (the payment
			// lifts it), never active while overdue.
			var overdue bool
			err := tx.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
				JOIN plan_notification_settings n ON n.plan_id = ?
				WHERE l.service_id = ? AND i.status = 'unpaid' AND i.customer_id IS NOT NULL AND i.due_date + n.suspension_days <= ?::date)`,
				v.PlanID, v.ID, day).Scan(&overdue).Error
			if err != nil {
				return false, errs.Internal(err)
			}
			return !overdue, nil
		}
		stop, err := paused(tx.WithContext(ctx), v.CustomerID, day)
		return over && !stop, err
	}
}
