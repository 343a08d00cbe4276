// Package mail is the platform's outbox: every mail is a notifications row
// written in the transaction of the change that causes it, and sent over
// SMTP by a River job.
//
// Entities: Notification (recipient, template, issuer, subject, sealed
// body, attachments to fetch at send time, Message-ID).
// States: queued -> sent | failed; held when no SMTP server is configured
// (POST /v1/notifications/{id}/resend queues it once one is); sent, failed
// and held mails may be queued again by a resend.
// Invariants: a mail exists iff its cause committed (same transaction);
// the Message-ID is fixed when the mail is queued, so the only duplicate a
// receiver can see (a resend after an ambiguous SMTP failure, or an
// explicit resend) carries the same Message-ID; a row is marked sent in a
// transaction after the SMTP server accepted it, and a send job finding it
// sent does nothing; the body is stored sealed (it may carry a password)
// and never returned by the API.
package mail

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/mail/smtpurl"
	"github.com/acronis-platform/platform/internal/memo"
	"github.com/acronis-platform/platform/internal/notify"
	"github.com/acronis-platform/platform/internal/secret"
)

// Statuses of a mail.
const (
	StatusQueued = "queued"
	StatusSent   = "sent"
	StatusFailed = "failed"
	StatusHeld   = "held"
)

// Kind names a mail the platform sends; each has a default template
// (seeded, editable) found by its kind.
type Kind string

// The kinds of mail (domain.md 1.3, 3, 4, 6).
const (
	KindInvoiceIssued     Kind = "invoice_issued"
	KindPaymentReceived   Kind = "payment_received"
	KindOverageInvoice    Kind = "overage_invoice"
	KindPostpaidInvoice   Kind = "postpaid_invoice"
	KindServiceReady      Kind = "service_ready"
	KindCredentialsReset  Kind = "credentials_reset"
	KindSuspensionNotice  Kind = "suspension_notice"
	KindTerminationNotice Kind = "termination_notice"
	KindCreditLimitAlert  Kind = "credit_limit_alert"
	KindPaymentReminder   Kind = "payment_reminder"
)

// Kinds lists every kind.
var Kinds = []Kind{KindInvoiceIssued, KindPaymentReceived, KindOverageInvoice, KindPostpaidInvoice, KindServiceReady,
	KindCredentialsReset, KindSuspensionNotice, KindTerminationNotice, KindCreditLimitAlert, KindPaymentReminder}

// AttachInvoicePDF attaches an invoice's PDF (Attachment.ID is the invoice).
const AttachInvoicePDF = "invoice_pdf"

// Message is one mail to queue.
type Message struct {
	// To is the recipient address; ToName its display name (optional).
	To, ToName string
	// TemplateID picks a stored template (a plan's suspension template);
	// when nil, the default template of Kind is used.
	TemplateID *uuid.UUID
	Kind       Kind
	// Data fills the template. Data.Company.Name defaults to Issuer.Name.
	Data   notify.Data
	Issuer Issuer
	// PartnerID is the partner the mail concerns (the partner of the
	// customer, or the partner itself): it scopes who sees the mail.
	PartnerID  *uuid.UUID
	CustomerID *uuid.UUID
	// Attachments are fetched when the mail is sent (see UseAttachment).
	Attachments []Attachment
	// DedupeKey, when set, makes the enqueue happen once: a second
	// EnqueueTx with the same key (a retried job, a repeated run) keeps the
	// first mail and queues nothing.
	DedupeKey string
}

// Issuer is in whose name a mail is sent: the SP's venture, or the partner
// for its customers. Name is the From display name.
type Issuer struct {
	Name      string
	VentureID *uuid.UUID
	PartnerID *uuid.UUID
}

// Attachment is a file fetched at send time through the fetcher of Kind.
type Attachment struct {
	Kind string    `json:"kind"`
	ID   uuid.UUID `json:"id"`
}

// File is a fetched attachment.
type File struct {
	Name, ContentType string
	Data              []byte
}

// Fetcher returns the file an attachment names.
type Fetcher func(ctx context.Context, id uuid.UUID) (File, error)

// Notification is a stored mail.
type Notification struct {
	ID            uuid.UUID `gorm:"primaryKey"`
	Recipient     string
	RecipientName string
	TemplateID    *uuid.UUID
	TemplateKind  *string
	IssuerName    string
	VentureID     *uuid.UUID
	PartnerID     *uuid.UUID
	CustomerID    *uuid.UUID
	Subject       string
	ReplyTo       string
	BodySealed    []byte
	Attachments   Attachments `gorm:"type:jsonb"`
	Status        string
	Attempts      int
	LastError     *string
	MessageID     string
	DedupeKey     *string
	SentAt        *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName keeps GORM on the migration's table.
func (Notification) TableName() string { return "notifications" }

// Attachments is stored as a JSON array.
type Attachments []Attachment

// Value writes the JSON array.
func (a Attachments) Value() (driver.Value, error) {
	if a == nil {
		a = Attachments{}
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// Scan reads the JSON array.
func (a *Attachments) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	case nil:
		*a = nil
		return nil
	default:
		return fmt.Errorf("attachments: cannot scan %T", v)
	}
	return json.Unmarshal(b, a)
}

// Config is the outbox's settings.
type Config struct {
	// SMTP is where mail goes; nil keeps every mail held.
	SMTP *smtpurl.Server
	// From is the From address of every mail.
	From string
	// Attempts bounds the tries of one mail; BackoffMax the wait between two.
	Attempts   int
	BackoffMax time.Duration
	// Timeout bounds one SMTP conversation (30s when zero).
	Timeout time.Duration
}

// Inserter enqueues a job in a transaction (internal/jobs.Runner).
type Inserter interface {
	InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// Outbox queues and sends mail.
type Outbox struct {
	db       *gorm.DB
	clk      clock.Clock
	box      *secret.Box
	log      *slog.Logger
	cfg      Config
	jobs     Inserter
	fetchers map[string]Fetcher
}

// New returns an outbox; UseJobs must be called before EnqueueTx queues
// anything (mails are held until then).
func New(db *gorm.DB, clk clock.Clock, box *secret.Box, log *slog.Logger, cfg Config) *Outbox {
	if cfg.Attempts < 1 {
		cfg.Attempts = 25
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Outbox{db: db, clk: clk, box: box, log: log, cfg: cfg, fetchers: map[string]Fetcher{}}
}

// UseJobs sets the queue the send jobs go to.
func (o *Outbox) UseJobs(j Inserter) { o.jobs = j }

// UseAttachment sets how attachments of kind are fetched at send time
// (e.g. AttachInvoicePDF: the invoice PDF renderer).
func (o *Outbox) UseAttachment(kind string, f Fetcher) { o.fetchers[kind] = f }

// Configured reports whether an SMTP server is set.
func (o *Outbox) Configured() bool { return o.cfg.SMTP != nil }

type template struct {
	ID      uuid.UUID
	Name    string
	Kind    *string
	Subject string
	Body    string
	ReplyTo string
}

// EnqueueTx renders m and writes it to the outbox in tx, with its send
// job: the mail is sent iff tx commits. Without an SMTP server the mail is
// stored held. A recipient that is not an address is stored failed (the
// change that caused the mail still commits). It returns the mail's id.
func (o *Outbox) EnqueueTx(ctx context.Context, tx *gorm.DB, m Message) (uuid.UUID, error) {
	t, err := o.template(ctx, tx, m)
	if err != nil {
		return uuid.Nil, err
	}
	data := m.Data
	if data.Company.Name == "" {
		data.Company.Name = m.Issuer.Name
	}
	subject, err := notify.Render("subject", t.Subject, data)
	if err != nil {
		return uuid.Nil, errs.Internal(fmt.Errorf("mail: template %s: %w", t.ID, err))
	}
	body, err := notify.Render("body", t.Body, data)
	if err != nil {
		return uuid.Nil, errs.Internal(fmt.Errorf("mail: template %s: %w", t.ID, err))
	}
	replyTo, err := notify.Render("reply_to", t.ReplyTo, data)
	if err != nil {
		return uuid.Nil, errs.Internal(fmt.Errorf("mail: template %s: %w", t.ID, err))
	}
	// Headers are one line each; a subject rendered empty on real data
	// (checked non-empty on sample data) falls back to the template's name.
	subject = oneLine(subject)
	if subject == "" {
		subject = t.Name
	}
	now := o.clk.Now()
	id := uuid.New()
	n := Notification{
		ID: id, Recipient: strings.TrimSpace(m.To), RecipientName: oneLine(m.ToName), TemplateID: &t.ID, TemplateKind: t.Kind,
		IssuerName: oneLine(m.Issuer.Name), VentureID: m.Issuer.VentureID, PartnerID: m.PartnerID, CustomerID: m.CustomerID,
		Subject: subject, ReplyTo: oneLine(replyTo), Attachments: m.Attachments, Status: StatusQueued,
		MessageID: id.String() + "@" + o.domain(), CreatedAt: now, UpdatedAt: now,
	}
	if n.PartnerID == nil {
		n.PartnerID = m.Issuer.PartnerID
	}
	if n.Attachments == nil {
		n.Attachments = Attachments{}
	}
	if m.DedupeKey != "" {
		n.DedupeKey = &m.DedupeKey
	}
	n.BodySealed, err = o.box.Seal([]byte(body), id[:])
	if err != nil {
		return uuid.Nil, errs.Internal(err)
	}
	switch {
	case !validAddress(n.Recipient):
		n.Status = StatusFailed
		n.LastError = ptr("the recipient is not an email address")
	case n.ReplyTo != "" && !validReplyTo(n.ReplyTo):
		n.Status = StatusFailed
		n.LastError = ptr("the reply-to renders to something that is not an email address")
	case o.cfg.SMTP == nil || o.jobs == nil:
		n.Status = StatusHeld
		n.LastError = ptr("no SMTP server is configured (SMTP_URL)")
	}
	res := tx.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "dedupe_key"}}, DoNothing: true}).Create(&n)
	if res.Error != nil {
		return uuid.Nil, errs.Internal(res.Error)
	}
	if res.RowsAffected == 0 { // enqueued before under this key
		var first Notification
		if err := tx.WithContext(ctx).Select("id").Take(&first, "dedupe_key = ?", m.DedupeKey).Error; err != nil {
			return uuid.Nil, errs.Internal(err)
		}
		return first.ID, nil
	}
	switch n.Status {
	case StatusHeld:
		o.log.InfoContext(ctx, "mail held: no SMTP server configured", "notification_id", id, "kind", deref(t.Kind), "subject", subject)
	case StatusFailed:
		o.log.WarnContext(ctx, "mail not sendable", "notification_id", id, "reason", *n.LastError)
	case StatusQueued:
		if err := o.queue(ctx, tx, id); err != nil {
			return uuid.Nil, err
		}
	}
	return id, nil
}

func (o *Outbox) queue(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	if err := o.jobs.InsertTx(ctx, tx, SendArgs{NotificationID: id}, &river.InsertOpts{MaxAttempts: o.cfg.Attempts}); err != nil {
		return errs.Internal(err)
	}
	return nil
}

// template is the template of m: read once per template in a run that
// caches (memo; a dunning run mails the same few templates).
func (o *Outbox) template(ctx context.Context, tx *gorm.DB, m Message) (template, error) {
	k := templateKey{kind: m.Kind}
	if m.TemplateID != nil {
		k.id = *m.TemplateID
	}
	return memo.Get(ctx, k, func() (template, error) { return o.loadTemplate(ctx, tx, m) })
}

// templateKey is a template by id, else (no id) by kind.
type templateKey struct {
	id   uuid.UUID
	kind Kind
}

func (o *Outbox) loadTemplate(ctx context.Context, tx *gorm.DB, m Message) (template, error) {
	var t template
	q := tx.WithContext(ctx).Table("email_templates").Select("id, name, kind, subject, body, reply_to")
	var err error
	if m.TemplateID != nil {
		err = q.Take(&t, "id = ?", *m.TemplateID).Error
	} else {
		err = q.Take(&t, "kind = ?", string(m.Kind)).Error
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return t, errs.Unprocessable("template_not_found", "No email template for this mail.")
	}
	if err != nil {
		return t, errs.Internal(err)
	}
	if m.TemplateID != nil && t.Kind == nil && m.Kind != "" {
		k := string(m.Kind)
		t.Kind = &k
	}
	return t, nil
}

// domain is the right-hand side of Message-IDs: the From address's domain.
func (o *Outbox) domain() string {
	if _, d, ok := strings.Cut(o.cfg.From, "@"); ok && d != "" {
		return d
	}
	return "mail.acronis-platform"
}

func validAddress(s string) bool {
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s && !strings.ContainsAny(s, "\r\n")
}

func validReplyTo(s string) bool {
	_, err := netmail.ParseAddress(s)
	return err == nil
}

func oneLine(s string) string {
	return strings.TrimSpace(strings.Join(strings.Fields(s), " "))
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
