// Package notice decides which mails the platform's changes cause and
// queues them on the outbox in the transaction of the change.
//
// Entities: none of its own; it maps domain hooks to mail.Message values.
//
//	invoice issued (total above zero)  -> invoice_issued, overage_invoice or postpaid_invoice, PDF attached
//	payment recorded                   -> payment_received
//	service ready                      -> service_ready (portal link, never the password)
//	credentials reset                  -> credentials_reset (the new password, as the domain says)
//	service suspended / terminated     -> the plan's suspension / termination template, else the default
//	payment reminder (dunning)         -> the plan's reminder template, else payment_reminder
//	credit limit crossed (dunning)     -> credit_limit_alert (the plan's credit-limit template for a
//	                                      customer, when one of its plans names one), to the customer
//	                                      or the partner
//
// An invoice names its service when it bills one (the overage mail says
// which service stored too much); a suspension or termination notice names
// the service's oldest overdue invoice and its days past due, when it has
// one (a service suspended by hand may have none).
//
// An invoice whose total is zero (a free plan, a change fully credited)
// mails nothing: it asks nothing of its recipient, who hears of the service
// itself by the service-ready mail and finds the invoice, and its PDF, in
// the API like any other.
//
// Invariants: a mail is queued in the same transaction as its cause, so a
// change that rolls back mails nothing; each cause mails once (a dedupe key
// per cause: a retried job or hook queues nothing new); mails are sent in
// the issuer's name: the partner for its customers, otherwise the venture.
package notice

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/invoicepdf"
	"github.com/acronis-platform/platform/internal/mail"
	"github.com/acronis-platform/platform/internal/memo"
	"github.com/acronis-platform/platform/internal/notify"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/subscription"
)

// Sources are the domain services whose changes mail someone.
type Sources struct {
	Billing  *billing.Service
	Services *subscription.Service
	Dunning  *dunning.Service
}

// Watch registers the hooks that queue mails on out, and the fetcher that
// attaches invoice PDFs when they are sent.
func Watch(db *gorm.DB, out *mail.Outbox, src Sources) {
	n := &notifier{out: out}
	out.UseAttachment(mail.AttachInvoicePDF, func(ctx context.Context, id uuid.UUID) (mail.File, error) {
		f, err := invoicepdf.ForInvoice(ctx, db, id)
		if err != nil {
			return mail.File{}, err
		}
		return mail.File{Name: f.Name, ContentType: f.ContentType, Data: f.Data}, nil
	})
	if b := src.Billing; b != nil {
		n.today = b.Today
		b.OnIssued(n.invoiceIssued)
		b.OnPayment(n.paymentReceived)
	}
	if s := src.Services; s != nil {
		s.OnReady(n.serviceReady)
		s.OnCredentialsReset(n.credentialsReset)
		s.OnSuspended(func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) error {
			return n.serviceNotice(ctx, tx, v, mail.KindSuspensionNotice, "suspension_template_id")
		})
		s.OnTerminated(func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) error {
			return n.serviceNotice(ctx, tx, v, mail.KindTerminationNotice, "termination_template_id")
		})
	}
	if d := src.Dunning; d != nil {
		d.OnReminder(n.paymentReminder)
		d.OnCustomerCreditAlert(n.customerCreditAlert)
		d.OnPartnerCreditAlert(n.partnerCreditAlert)
	}
}

// paymentReminder mails a reminder of an unpaid invoice, naming the
// service it was found through.
func (n *notifier) paymentReminder(ctx context.Context, tx *gorm.DB, r dunning.Reminder) error {
	p, err := invoiceParty(ctx, tx, r.Invoice)
	if err != nil {
		return err
	}
	d := notify.Data{Customer: notify.Customer{Name: p.toName, Email: p.to}, Invoice: invoiceData(r.Invoice)}
	if d.Service, err = serviceData(ctx, tx, r.ServiceID); err != nil {
		return err
	}
	if r.Invoice.DueDate != nil {
		d.Days = int(r.Day.Sub(*r.Invoice.DueDate).Hours() / 24)
	}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: mail.KindPaymentReminder, TemplateID: r.TemplateID, Data: d,
		DedupeKey: fmt.Sprintf("payment_reminder:%s:%d", r.Invoice.ID, r.Offset)})
}

// customerCreditAlert tells a customer its unpaid balance went above its
// credit limit, in the name of its issuer.
func (n *notifier) customerCreditAlert(ctx context.Context, tx *gorm.DB, c customer.Customer, a dunning.CreditAlert) error {
	iss, err := issuer(ctx, tx, a.IssuerPartnerID, a.VentureID)
	if err != nil {
		return err
	}
	p := party{to: c.Email, toName: c.Name, issuer: iss, partnerID: c.PartnerID, customerID: &c.ID}
	d := notify.Data{Customer: notify.Customer{Name: c.Name, Email: c.Email, Balance: amount(a.Balance, a.Currency),
		CreditLimit: amount(a.Limit, a.Currency)}}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: mail.KindCreditLimitAlert, TemplateID: a.TemplateID, Data: d,
		DedupeKey: fmt.Sprintf("credit_limit_alert:customer:%s:%d", c.ID, c.CreditLimitExceededAt.UnixMicro())})
}

// partnerCreditAlert tells a partner its unpaid bills with the SP went
// above its credit limit, from the SP's venture.
func (n *notifier) partnerCreditAlert(ctx context.Context, tx *gorm.DB, pt partner.Partner, a dunning.CreditAlert) error {
	iss, err := issuer(ctx, tx, nil, a.VentureID)
	if err != nil {
		return err
	}
	p := party{to: pt.Email, toName: pt.Name, issuer: iss, partnerID: &pt.ID}
	d := notify.Data{Customer: notify.Customer{Name: pt.Name, Email: pt.Email, Balance: amount(a.Balance, a.Currency),
		CreditLimit: amount(a.Limit, a.Currency)}}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: mail.KindCreditLimitAlert, Data: d,
		DedupeKey: fmt.Sprintf("credit_limit_alert:partner:%s:%d", pt.ID, pt.CreditLimitExceededAt.UnixMicro())})
}

type notifier struct {
	out *mail.Outbox
	// today is the billing day (invoices' due dates are days).
	today func() time.Time
}

// party is who receives a mail, and who sends it.
type party struct {
	to, toName string
	issuer     mail.Issuer
	partnerID  *uuid.UUID // who may see the mail
	customerID *uuid.UUID
}

func (n *notifier) invoiceIssued(ctx context.Context, tx *gorm.DB, inv billing.Invoice) error {
	// A zero invoice (a trial, a change fully credited) asks nothing of anyone.
	if !inv.Total.IsPositive() {
		return nil
	}
	p, err := invoiceParty(ctx, tx, inv)
	if err != nil {
		return err
	}
	kind := mail.KindInvoiceIssued
	switch inv.Kind {
	case "overage":
		kind = mail.KindOverageInvoice
	case "postpaid":
		kind = mail.KindPostpaidInvoice
	}
	d := notify.Data{Customer: notify.Customer{Name: p.toName, Email: p.to}, Invoice: invoiceData(inv)}
	// An invoice of one service (an overage bill always is) names it: the
	// overage template says which service stored too much.
	if id, ok := onlyService(inv); ok {
		if d.Service, err = serviceData(ctx, tx, id); err != nil {
			return err
		}
	}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: kind, Data: d,
		Attachments: []mail.Attachment{{Kind: mail.AttachInvoicePDF, ID: inv.ID}},
		DedupeKey:   "invoice_issued:" + inv.ID.String()})
}

func (n *notifier) paymentReceived(ctx context.Context, tx *gorm.DB, pay billing.Payment, inv billing.Invoice) error {
	p, err := invoiceParty(ctx, tx, inv)
	if err != nil {
		return err
	}
	d := notify.Data{Customer: notify.Customer{Name: p.toName, Email: p.to}, Invoice: invoiceData(inv),
		Payment: notify.Payment{Amount: amount(pay.Amount, inv.Currency), Method: pay.Method, Reference: pay.Reference,
			Date: pay.PaidAt.Format(time.DateOnly)}}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: mail.KindPaymentReceived, Data: d,
		DedupeKey: "payment_received:" + pay.ID.String()})
}

func (n *notifier) serviceReady(ctx context.Context, tx *gorm.DB, v subscription.Subscription) error {
	p, d, err := serviceParty(ctx, tx, v)
	if err != nil {
		return err
	}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: mail.KindServiceReady, Data: d,
		DedupeKey: "service_ready:" + v.ID.String()})
}

func (n *notifier) credentialsReset(ctx context.Context, tx *gorm.DB, v subscription.Subscription, password string) error {
	p, d, err := serviceParty(ctx, tx, v)
	if err != nil {
		return err
	}
	d.Service.Password = password
	// Each reset is its own cause: the service's version moves with it.
	return n.enqueue(ctx, tx, p, mail.Message{Kind: mail.KindCredentialsReset, Data: d,
		DedupeKey: fmt.Sprintf("credentials_reset:%s:%d", v.ID, v.Version)})
}

// serviceNotice mails a suspension or termination with the plan's template
// when it names one (plan notification settings), else the default.
func (n *notifier) serviceNotice(ctx context.Context, tx *gorm.DB, v subscription.Subscription, kind mail.Kind, column string) error {
	p, d, err := serviceParty(ctx, tx, v)
	if err != nil {
		return err
	}
	// The notice names the service's oldest overdue invoice, when it has
	// one (dunning); one suspended by hand may have none.
	if n.today != nil {
		var overdue []billing.Invoice
		today := n.today()
		err = tx.WithContext(ctx).Where(`customer_id = ? AND status = 'unpaid' AND due_date < ?
			AND id IN (SELECT invoice_id FROM invoice_lines WHERE service_id = ?)`, v.CustomerID, today, v.ID).
			Order("due_date, issue_date, number").Limit(1).Find(&overdue).Error
		if err != nil {
			return errs.Internal(err)
		}
		if len(overdue) == 1 {
			d.Invoice = invoiceData(overdue[0])
			d.Days = int(today.Sub(*overdue[0].DueDate).Hours() / 24)
		}
	}
	// The plan's template: once per plan in a run that caches (memo).
	tplID, err := memo.Get(ctx, templateKey{column, v.PlanID}, func() (*uuid.UUID, error) {
		var tpl struct{ ID *uuid.UUID }
		err := tx.WithContext(ctx).Raw("SELECT "+column+" AS id FROM plan_notification_settings WHERE plan_id = ?", v.PlanID).Scan(&tpl).Error
		if err != nil {
			return nil, errs.Internal(err)
		}
		return tpl.ID, nil
	})
	if err != nil {
		return err
	}
	return n.enqueue(ctx, tx, p, mail.Message{Kind: kind, TemplateID: tplID, Data: d,
		DedupeKey: fmt.Sprintf("%s:%s:%d", kind, v.ID, v.Version)})
}

func (n *notifier) enqueue(ctx context.Context, tx *gorm.DB, p party, m mail.Message) error {
	m.To, m.ToName, m.Issuer, m.PartnerID, m.CustomerID = p.to, p.toName, p.issuer, p.partnerID, p.customerID
	_, err := n.out.EnqueueTx(ctx, tx, m)
	return err
}

// invoiceParty: a customer's invoice goes to the customer, in the name of
// its issuer (the partner for a partner's customer, else the venture); a
// partner's bill (the SP at cost) goes to the partner from the venture.
func invoiceParty(ctx context.Context, tx *gorm.DB, inv billing.Invoice) (party, error) {
	var p party
	var err error
	switch {
	case inv.CustomerID != nil:
		var c struct {
			Name, Email string
			PartnerID   *uuid.UUID
		}
		if err = take(ctx, tx, &c, "SELECT name, email, partner_id FROM customers WHERE id = ?", *inv.CustomerID); err != nil {
			return p, err
		}
		p = party{to: c.Email, toName: c.Name, partnerID: c.PartnerID, customerID: inv.CustomerID}
	case inv.PartnerID != nil:
		var c struct{ Name, Email string }
		if err = take(ctx, tx, &c, "SELECT name, email FROM partners WHERE id = ?", *inv.PartnerID); err != nil {
			return p, err
		}
		p = party{to: c.Email, toName: c.Name, partnerID: inv.PartnerID}
	default:
		return p, errs.Internal(fmt.Errorf("notice: invoice %s has no recipient", inv.ID))
	}
	p.issuer, err = issuer(ctx, tx, inv.IssuerPartnerID, inv.VentureID)
	return p, err
}

// serviceParty: a service's mails go to its customer, from the partner that
// sold it or else the venture of its plan.
func serviceParty(ctx context.Context, tx *gorm.DB, v subscription.Subscription) (party, notify.Data, error) {
	var row struct {
		Name, Email string
		Plan        string
		VentureID   uuid.UUID
	}
	err := take(ctx, tx, &row, `SELECT c.name, c.email, p.name AS plan, p.venture_id
		FROM customers c, plans p WHERE c.id = ? AND p.id = ?`, v.CustomerID, v.PlanID)
	if err != nil {
		return party{}, notify.Data{}, err
	}
	iss, err := issuer(ctx, tx, v.PartnerID, row.VentureID)
	if err != nil {
		return party{}, notify.Data{}, err
	}
	p := party{to: row.Email, toName: row.Name, issuer: iss, partnerID: v.PartnerID, customerID: &v.CustomerID}
	d := notify.Data{
		Customer: notify.Customer{Name: row.Name, Email: row.Email},
		Service:  notify.Service{Name: row.Plan, Username: v.Username, PortalURL: v.PortalURL, LoginURL: v.PortalURL},
	}
	return p, d, nil
}

// onlyService is the service every line of inv bills, when there is one.
func onlyService(inv billing.Invoice) (uuid.UUID, bool) {
	var id uuid.UUID
	for _, l := range inv.Lines {
		switch {
		case l.ServiceID == nil:
			return uuid.Nil, false
		case id == uuid.Nil:
			id = *l.ServiceID
		case id != *l.ServiceID:
			return uuid.Nil, false
		}
	}
	return id, id != uuid.Nil
}

// serviceData is a service as its mails show it: its plan's name, login
// and portal.
func serviceData(ctx context.Context, tx *gorm.DB, id uuid.UUID) (notify.Service, error) {
	var row struct{ Plan, Username, PortalURL string }
	err := take(ctx, tx, &row, `SELECT p.name AS plan, s.username, s.portal_url
		FROM services s JOIN plans p ON p.id = s.plan_id WHERE s.id = ?`, id)
	return notify.Service{Name: row.Plan, Username: row.Username, PortalURL: row.PortalURL, LoginURL: row.PortalURL}, err
}

func issuer(ctx context.Context, tx *gorm.DB, partnerID *uuid.UUID, ventureID uuid.UUID) (mail.Issuer, error) {
	if partnerID != nil {
		name, err := issuerName(ctx, tx, "partners", *partnerID)
		return mail.Issuer{Name: name, PartnerID: partnerID}, err
	}
	name, err := issuerName(ctx, tx, "ventures", ventureID)
	return mail.Issuer{Name: name, VentureID: &ventureID}, err
}

// issuerName is a partner's or venture's name: once per run that caches
// (memo), as a dunning run mails many customers of the same issuer.
func issuerName(ctx context.Context, tx *gorm.DB, table string, id uuid.UUID) (string, error) {
	return memo.Get(ctx, nameKey{table, id}, func() (string, error) {
		var row struct{ Name string }
		err := take(ctx, tx, &row, "SELECT name FROM "+table+" WHERE id = ?", id)
		return row.Name, err
	})
}

// Keys of what a run caches (memo).
type (
	nameKey struct {
		table string
		id    uuid.UUID
	}
	templateKey struct {
		column string
		plan   uuid.UUID
	}
)

var errMissing = errors.New("not found")

func take(ctx context.Context, tx *gorm.DB, dst any, q string, args ...any) error {
	res := tx.WithContext(ctx).Raw(q, args...).Scan(dst)
	if res.Error != nil {
		return errs.Internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return errs.Internal(fmt.Errorf("notice: %w: %s %v", errMissing, q, args))
	}
	return nil
}

func invoiceData(inv billing.Invoice) notify.Invoice {
	d := notify.Invoice{Total: amount(inv.Total, inv.Currency), Balance: amount(inv.Balance(), inv.Currency),
		PeriodStart: inv.PeriodStart.Format(time.DateOnly), PeriodEnd: inv.PeriodEnd.Format(time.DateOnly)}
	if inv.Number != nil {
		d.Number = *inv.Number
	}
	if inv.IssueDate != nil {
		d.IssueDate = inv.IssueDate.Format(time.DateOnly)
	}
	if inv.DueDate != nil {
		d.DueDate = inv.DueDate.Format(time.DateOnly)
	}
	return d
}

func amount(a decimal.Decimal, currency string) string { return a.StringFixed(2) + " " + currency }
