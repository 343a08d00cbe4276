package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	gomail "github.com/wneessen/go-mail"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/mail/smtpurl"
)

// SendArgs is the job that sends one mail.
type SendArgs struct {
	NotificationID uuid.UUID `json:"notification_id"`
}

// Kind names the job.
func (SendArgs) Kind() string { return "mail_send" }

// InsertOpts puts a send on the mail queue (workers of its own,
// MAIL_WORKERS); its tries are MAIL_ATTEMPTS, given at insert.
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: jobs.QueueMail} }

// SendWorker sends mails.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	o *Outbox
}

// Worker returns the send worker, to register with the queue.
func (o *Outbox) Worker() *SendWorker { return &SendWorker{o: o} }

// NextRetry backs off 1, 2, 4 ... s, at most MAIL_BACKOFF_MAX (River
// schedules on the wall clock).
func (w *SendWorker) NextRetry(job *river.Job[SendArgs]) time.Time {
	return clock.Wall().Add(min(time.Duration(1<<min(job.Attempt-1, 16))*time.Second, w.o.cfg.BackoffMax))
}

// Timeout bounds one try: the SMTP conversation and fetching attachments.
func (w *SendWorker) Timeout(*river.Job[SendArgs]) time.Duration {
	return 2*w.o.cfg.Timeout + 30*time.Second
}

// Work sends the mail once. A transient failure (connection, 4xx) is
// retried; a permanent one (the server refuses the recipient or the
// content with 5xx), or the last try, ends the mail failed with the reason.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	err := w.o.Send(ctx, job.Args.NotificationID, job.Attempt >= job.MaxAttempts)
	var p *permanentError
	if errors.As(err, &p) {
		return river.JobCancel(p.err)
	}
	return err
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Send tries to send one mail now; the send job calls it, and it is safe to
// repeat: a mail that is not queued (sent, failed, held) is left alone, and
// one another worker is sending (its row locked) is left to that worker.
// The row stays locked during the SMTP conversation and is marked sent in
// the same transaction right after the server accepted the mail. If that
// commit is lost, the retry sends again with the same Message-ID: the one
// duplicate the outbox allows. lastTry ends a failing mail failed.
func (o *Outbox) Send(ctx context.Context, id uuid.UUID, lastTry bool) error {
	tx := o.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return tx.Error
	}
	defer tx.Rollback() // a no-op after Commit
	var n Notification
	err := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).Take(&n, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // gone, or being sent by another worker
	}
	if err != nil {
		return err
	}
	if n.Status != StatusQueued {
		return nil
	}
	now := o.clk.Now()
	if o.cfg.SMTP == nil {
		if err := tx.Model(&n).Updates(map[string]any{"status": StatusHeld, "last_error": "no SMTP server is configured (SMTP_URL)", "updated_at": now}).Error; err != nil {
			return err
		}
		return tx.Commit().Error
	}
	sendErr := o.deliver(ctx, n)
	if sendErr == nil {
		if err := tx.Model(&n).Updates(map[string]any{"status": StatusSent, "attempts": gorm.Expr("attempts + 1"), "last_error": nil,
			"sent_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		return tx.Commit().Error
	}
	status := StatusQueued
	if isPermanent(sendErr) || lastTry {
		status = StatusFailed
	}
	reason := truncate(sendErr.Error(), 1000)
	if err := tx.Model(&n).Updates(map[string]any{"status": status, "attempts": gorm.Expr("attempts + 1"), "last_error": reason,
		"updated_at": now}).Error; err != nil {
		return err
	}
	if err := tx.Commit().Error; err != nil {
		return err
	}
	o.log.WarnContext(ctx, "mail not sent", "notification_id", n.ID, "status", status, "reason", reason)
	if status == StatusFailed {
		return &permanentError{sendErr} // recorded; no other try
	}
	return sendErr
}

// deliver speaks SMTP once.
func (o *Outbox) deliver(ctx context.Context, n Notification) error {
	body, err := o.box.Open(n.BodySealed, n.ID[:])
	if err != nil {
		return fmt.Errorf("open body: %w", err)
	}
	m := gomail.NewMsg()
	if err := m.FromFormat(n.IssuerName, o.cfg.From); err != nil {
		return &permanentError{fmt.Errorf("from: %w", err)}
	}
	if err := m.AddToFormat(n.RecipientName, n.Recipient); err != nil {
		return &permanentError{fmt.Errorf("recipient: %w", err)}
	}
	if n.ReplyTo != "" {
		if err := m.ReplyTo(n.ReplyTo); err != nil {
			return &permanentError{fmt.Errorf("reply-to: %w", err)}
		}
	}
	m.Subject(n.Subject)
	m.SetMessageIDWithValue(n.MessageID)
	m.SetDateWithValue(n.CreatedAt)
	m.SetGenHeader("X-Notification-Id", n.ID.String())
	m.SetBodyString(gomail.TypeTextPlain, string(body))
	for _, a := range n.Attachments {
		f, ok := o.fetchers[a.Kind]
		if !ok {
			return fmt.Errorf("attachment %s %s: no fetcher configured", a.Kind, a.ID)
		}
		file, err := f(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("attachment %s %s: %w", a.Kind, a.ID, err)
		}
		m.AttachReader(file.Name, bytes.NewReader(file.Data), gomail.WithFileContentType(gomail.ContentType(file.ContentType)))
	}
	c, err := client(*o.cfg.SMTP, o.cfg.Timeout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	err = c.DialAndSendWithContext(ctx, m)
	if err != nil && m.IsDelivered() {
		// Accepted after DATA; only the goodbye failed.
		return nil
	}
	return err
}

func client(s smtpurl.Server, timeout time.Duration) (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(timeout)}
	switch {
	case s.TLS:
		opts = append(opts, gomail.WithSSL())
	case s.StartTLS == smtpurl.StartTLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case s.StartTLS == smtpurl.StartTLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

// isPermanent tells a failure of this mail (a 5xx to its recipient or its
// content) from one of the server or the network, which another try may
// fix.
func isPermanent(err error) bool {
	var p *permanentError
	if errors.As(err, &p) {
		return true
	}
	var se *gomail.SendError
	if !errors.As(err, &se) || se.IsTemp() || se.ErrorCode() < 500 {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return true
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
