package mail_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/mail"
	"github.com/acronis-platform/platform/internal/mail/mailtest"
	"github.com/acronis-platform/platform/internal/notify"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const from = "billing@hosting.example"

// withSMTP points a platform at a Mailpit, retrying after 1 s at most.
func withSMTP(mp *mailtest.Server) func(*config.Config) {
	return func(c *config.Config) {
		c.SMTPURL, c.MailFrom, c.MailBackoffMax = mp.SMTPURL(), from, time.Second
	}
}

// start runs a platform without background jobs on the package database:
// tests call Send themselves, as a send job would.
func start(t *testing.T, change ...func(*config.Config)) *apptest.Env {
	t.Helper()
	cfg := apptest.Config(t)
	for _, c := range change {
		c(&cfg)
	}
	return apptest.Start(t, cfg)
}

// withJobs runs a platform with its jobs on a database of its own (so no
// other test's instance works its send jobs).
func withJobs(t *testing.T, change ...func(*config.Config)) *apptest.Env {
	t.Helper()
	cfg := apptest.Config(t)
	for _, c := range change {
		c(&cfg)
	}
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	env := apptest.Start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, env.App.Jobs.Start(ctx))
	t.Cleanup(func() {
		cancel()
		_ = env.App.Jobs.Stop(context.Background())
	})
	return env
}

func recipient() string { return "c-" + uuid.NewString()[:13] + "@example.com" }

func invoiceMail(to string) mail.Message {
	return mail.Message{
		To: to, ToName: "Jane Doe", Kind: mail.KindInvoiceIssued, Issuer: mail.Issuer{Name: "Example Hosting"},
		Data: notify.Data{Customer: notify.Customer{Name: "Jane Doe", Email: to},
			Invoice: notify.Invoice{Number: "EXH-2026-000007", Total: "121.00 USD", IssueDate: "2026-11-25", DueDate: "2026-12-09"}},
	}
}

func enqueue(t *testing.T, env *apptest.Env, m mail.Message) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		var err error
		id, err = env.App.Mail.EnqueueTx(context.Background(), tx, m)
		return err
	}))
	return id
}

func row(t *testing.T, env *apptest.Env, id uuid.UUID) mail.Notification {
	t.Helper()
	var n mail.Notification
	require.NoError(t, env.App.DB.Gorm.Take(&n, "id = ?", id).Error)
	return n
}

func jobsFor(t *testing.T, env *apptest.Env, id uuid.UUID) int64 {
	t.Helper()
	var n int64
	require.NoError(t, env.App.DB.Gorm.Raw(`SELECT count(*) FROM river_job WHERE kind = 'mail_send' AND queue = 'mail' AND args->>'notification_id' = ?`, id.String()).Scan(&n).Error)
	return n
}

// waitStatus polls the row until it reaches status (60 s at most).
func waitStatus(t *testing.T, env *apptest.Env, id uuid.UUID, cond func(mail.Notification) bool) mail.Notification {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := row(t, env, id)
		if cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail %s still %s (attempts %d, last error %v)", id, n.Status, n.Attempts, n.LastError)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCommittedMailIsDeliveredOnce: a mail queued in a transaction that
// commits reaches the inbox once, through the send job, with its stored
// Message-ID, issuer, rendered template and fetched attachment.
func TestCommittedMailIsDeliveredOnce(t *testing.T) {
	t.Parallel()
	mp := mailtest.Shared(t)
	env := withJobs(t, withSMTP(mp))
	pdf := []byte("%PDF-1.4 invoice EXH-2026-000007")
	var fetched sync.Map
	env.App.Mail.UseAttachment(mail.AttachInvoicePDF, func(_ context.Context, id uuid.UUID) (mail.File, error) {
		fetched.Store(id, true)
		return mail.File{Name: "invoice-EXH-2026-000007.pdf", ContentType: "application/pdf", Data: pdf}, nil
	})
	to := recipient()
	m := invoiceMail(to)
	invoiceID := uuid.New()
	m.Attachments = []mail.Attachment{{Kind: mail.AttachInvoicePDF, ID: invoiceID}}
	id := enqueue(t, env, m)

	got := mp.Wait(t, "to:"+to, 1)
	n := waitStatus(t, env, id, func(n mail.Notification) bool { return n.Status == mail.StatusSent })
	require.Len(t, got, 1)
	require.Equal(t, n.MessageID, got[0].MessageID)
	require.Equal(t, 1, n.Attempts)
	require.Nil(t, n.LastError)
	require.NotNil(t, n.SentAt)

	msg := mp.Message(t, got[0].ID)
	require.Equal(t, "Example Hosting", msg.From.Name, "the issuer is the display name")
	require.Equal(t, from, msg.From.Address)
	require.Equal(t, "Invoice EXH-2026-000007 from Example Hosting", msg.Subject)
	require.Contains(t, msg.Text, "invoice EXH-2026-000007 of 2026-11-25 for 121.00 USD, due on 2026-12-09")
	require.Len(t, msg.Attachments, 1)
	require.Equal(t, "invoice-EXH-2026-000007.pdf", msg.Attachments[0].FileName)
	require.Equal(t, "application/pdf", msg.Attachments[0].ContentType)
	require.Equal(t, pdf, mp.Part(t, msg.ID, msg.Attachments[0].PartID))
	_, ok := fetched.Load(invoiceID)
	require.True(t, ok, "the PDF is fetched at send time through the attachment's fetcher")

	// The job run again (a rescued job, a second worker) sends nothing.
	require.NoError(t, env.App.Mail.Send(context.Background(), id, false))
	require.Len(t, mp.Search(t, "to:"+to), 1)
	require.Equal(t, 1, row(t, env, id).Attempts)
}

// TestRolledBackMailIsNeverSent: no row, no job, when the cause rolls back.
func TestRolledBackMailIsNeverSent(t *testing.T) {
	t.Parallel()
	mp := mailtest.Shared(t)
	env := start(t, withSMTP(mp))
	var id uuid.UUID
	boom := errors.New("the change failed")
	err := env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		var err error
		id, err = env.App.Mail.EnqueueTx(context.Background(), tx, invoiceMail(recipient()))
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	var rows int64
	require.NoError(t, env.App.DB.Gorm.Model(&mail.Notification{}).Where("id = ?", id).Count(&rows).Error)
	require.Zero(t, rows)
	require.Zero(t, jobsFor(t, env, id))
}

// TestJobRunTwiceSendsOnce: two send jobs of one mail, even at once, send
// it once.
func TestJobRunTwiceSendsOnce(t *testing.T) {
	t.Parallel()
	mp := mailtest.Shared(t)
	env := start(t, withSMTP(mp))
	to := recipient()
	id := enqueue(t, env, invoiceMail(to))
	require.EqualValues(t, 1, jobsFor(t, env, id), "the send job is queued with the row")
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { require.NoError(t, env.App.Mail.Send(context.Background(), id, false)) })
	}
	wg.Wait()
	require.NoError(t, env.App.Mail.Send(context.Background(), id, false))
	n := row(t, env, id)
	require.Equal(t, mail.StatusSent, n.Status)
	require.Equal(t, 1, n.Attempts)
	got := mp.Search(t, "to:"+to)
	require.Len(t, got, 1)
	require.Equal(t, n.MessageID, got[0].MessageID)
}

// TestSMTPDownThenBack: while the server is down the job retries (the row
// stays queued with the reason); once it is back the mail goes, once.
func TestSMTPDownThenBack(t *testing.T) {
	t.Parallel()
	mp := mailtest.New(t)
	env := withJobs(t, withSMTP(mp))
	mp.Stop()
	to := recipient()
	id := enqueue(t, env, invoiceMail(to))
	n := waitStatus(t, env, id, func(n mail.Notification) bool { return n.Attempts >= 2 })
	require.Equal(t, mail.StatusQueued, n.Status, "a connection failure is retried")
	require.NotNil(t, n.LastError)
	require.Contains(t, *n.LastError, "refused")

	require.NoError(t, mp.Restart())
	got := mp.Wait(t, "to:"+to, 1)
	n = waitStatus(t, env, id, func(n mail.Notification) bool { return n.Status == mail.StatusSent })
	require.Len(t, got, 1)
	require.Equal(t, n.MessageID, got[0].MessageID)
	require.Nil(t, n.LastError)
}

// TestRefusedRecipientFailsThatMailOnly: a 5xx at RCPT ends that mail
// failed with the server's reason at once; the next mail goes.
func TestRefusedRecipientFailsThatMailOnly(t *testing.T) {
	t.Parallel()
	mp := mailtest.Shared(t)
	env := start(t, withSMTP(mp))
	refused := enqueue(t, env, invoiceMail("nobody-"+uuid.NewString()[:8]+"@refused.test"))
	to := recipient()
	fine := enqueue(t, env, invoiceMail(to))

	job := env.App.Mail.Worker()
	err := job.Work(context.Background(), sendJob(refused, 1, 25))
	require.Error(t, err)
	require.Contains(t, err.Error(), "550")
	n := row(t, env, refused)
	require.Equal(t, mail.StatusFailed, n.Status, "no more tries for a refused recipient")
	require.Equal(t, 1, n.Attempts)
	require.NotNil(t, n.LastError)
	require.Contains(t, *n.LastError, "550")
	require.Contains(t, *n.LastError, "RCPT")

	require.NoError(t, job.Work(context.Background(), sendJob(fine, 1, 25)))
	require.Equal(t, mail.StatusSent, row(t, env, fine).Status)
	require.Len(t, mp.Search(t, "to:"+to), 1)
}

// TestInvalidRecipientIsStoredFailed: an address that is none fails the
// mail, not the change that caused it.
func TestInvalidRecipientIsStoredFailed(t *testing.T) {
	t.Parallel()
	env := start(t, withSMTP(mailtest.Shared(t)))
	id := enqueue(t, env, invoiceMail("not an address"))
	n := row(t, env, id)
	require.Equal(t, mail.StatusFailed, n.Status)
	require.Zero(t, jobsFor(t, env, id))
}

// TestDedupeKey: the same key enqueues one mail.
func TestDedupeKey(t *testing.T) {
	t.Parallel()
	env := start(t, withSMTP(mailtest.Shared(t)))
	m := invoiceMail(recipient())
	m.DedupeKey = "invoice_issued:" + uuid.NewString()
	first := enqueue(t, env, m)
	second := enqueue(t, env, m)
	require.Equal(t, first, second)
	require.EqualValues(t, 1, jobsFor(t, env, first))
}

// TestHeldWithoutSMTP: without SMTP_URL a mail is held and logged; the
// resend queues it once an SMTP server is configured, with its Message-ID.
func TestHeldWithoutSMTP(t *testing.T) {
	t.Parallel()
	mp := mailtest.Shared(t)
	dbURL := pgtest.NewDatabase(t, true)
	onDB := func(c *config.Config) { c.DatabaseURL = dbURL }
	held := start(t, onDB, func(c *config.Config) { c.LogLevel = "info" })
	to := recipient()
	id := enqueue(t, held, invoiceMail(to))
	n := row(t, held, id)
	require.Equal(t, mail.StatusHeld, n.Status)
	require.Zero(t, jobsFor(t, held, id))
	require.Contains(t, held.Logs.String(), "mail held")
	require.Contains(t, held.Logs.String(), id.String())

	admin, _ := held.Admin(t)
	ctx := context.Background()
	res, err := admin.ResendNotificationWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, res.StatusCode(), string(res.Body))
	require.Contains(t, string(res.Body), "mail_not_configured")

	// The same database, now with SMTP.
	configured := start(t, onDB, withSMTP(mp))
	admin2, _ := configured.Admin(t)
	res, err = admin2.ResendNotificationWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.NotificationStatus("queued"), res.JSON202.Status)
	require.NoError(t, configured.App.Mail.Send(ctx, id, false))
	got := mp.Search(t, "to:"+to)
	require.Len(t, got, 1)
	require.Equal(t, n.MessageID, got[0].MessageID)
}

// TestResend: a sent mail sent again carries the same Message-ID; while
// it is queued a resend is 409.
func TestResend(t *testing.T) {
	t.Parallel()
	mp := mailtest.Shared(t)
	env := start(t, withSMTP(mp))
	ctx := context.Background()
	to := recipient()
	id := enqueue(t, env, invoiceMail(to))
	admin, _ := env.Admin(t)

	res, err := admin.ResendNotificationWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, res.StatusCode(), "queued: its job sends it")
	require.Contains(t, string(res.Body), "notification_queued")

	require.NoError(t, env.App.Mail.Send(ctx, id, false))
	res, err = admin.ResendNotificationWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.NotificationStatus("queued"), res.JSON202.Status)
	require.EqualValues(t, 2, jobsFor(t, env, id))
	require.NoError(t, env.App.Mail.Send(ctx, id, false))

	got := mp.Search(t, "to:"+to)
	require.Len(t, got, 2)
	require.Equal(t, got[0].MessageID, got[1].MessageID)
	n := row(t, env, id)
	require.Equal(t, n.MessageID, got[0].MessageID)
	require.Equal(t, 2, n.Attempts)

	missing, err := admin.ResendNotificationWithResponse(ctx, uuid.New())
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
}

// TestNotificationsAPI: who sees which mail, the filters, and that no
// answer carries the body (a reset mail holds the new password), which is
// sealed at rest too.
func TestNotificationsAPI(t *testing.T) {
	t.Parallel()
	env := start(t, withSMTP(mailtest.Shared(t)))
	ctx := context.Background()
	partnerA, partnerB := env.NewPartner(t), env.NewPartner(t)
	customerA := env.NewCustomer(t, &partnerA)
	password := "Fresh-" + uuid.NewString()[:12]
	toA := recipient()
	reset := mail.Message{To: toA, Kind: mail.KindCredentialsReset, Issuer: mail.Issuer{Name: "Partner A", PartnerID: &partnerA}, CustomerID: &customerA,
		Data: notify.Data{Service: notify.Service{Name: "Backup 100 GB", Username: "jane", PortalURL: "https://portal.example.com", Password: password}}}
	resetID := enqueue(t, env, reset)
	spID := enqueue(t, env, invoiceMail(recipient()))

	var raw string
	require.NoError(t, env.App.DB.Gorm.Raw(`SELECT encode(body_sealed, 'escape') FROM notifications WHERE id = ?`, resetID).Scan(&raw).Error)
	require.NotContains(t, raw, password, "the body is sealed at rest")

	admin, _ := env.Admin(t)
	pa := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerA, nil)))
	pb := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerB, nil)))
	cust := env.Client(t, env.Login(t, env.NewUser(t, auth.RoleCustomer, nil, &customerA)))

	kind := oapi.MailKind("credentials_reset")
	tests := []struct {
		name   string
		client *oapi.ClientWithResponses
		params oapi.ListNotificationsParams
		status int
		want   []uuid.UUID
		not    []uuid.UUID
	}{
		{"admin by recipient", admin, oapi.ListNotificationsParams{Recipient: &toA}, 200, []uuid.UUID{resetID}, []uuid.UUID{spID}},
		{"admin by kind", admin, oapi.ListNotificationsParams{Kind: &kind, CustomerId: &customerA}, 200, []uuid.UUID{resetID}, []uuid.UUID{spID}},
		{"admin by status", admin, oapi.ListNotificationsParams{Status: ptr(oapi.NotificationStatus("queued")), Recipient: &toA}, 200, []uuid.UUID{resetID}, nil},
		{"admin by other status", admin, oapi.ListNotificationsParams{Status: ptr(oapi.NotificationStatus("sent")), Recipient: &toA}, 200, nil, []uuid.UUID{resetID}},
		{"partner sees its customer's", pa, oapi.ListNotificationsParams{}, 200, []uuid.UUID{resetID}, []uuid.UUID{spID}},
		{"another partner sees none", pb, oapi.ListNotificationsParams{}, 200, nil, []uuid.UUID{resetID, spID}},
		{"customer may not", cust, oapi.ListNotificationsParams{}, 403, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := tt.client.ListNotificationsWithResponse(ctx, &tt.params)
			require.NoError(t, err)
			require.Equal(t, tt.status, res.StatusCode(), string(res.Body))
			require.NotContains(t, string(res.Body), password)
			if tt.status != 200 {
				return
			}
			var ids []uuid.UUID
			for _, n := range res.JSON200.Data {
				ids = append(ids, n.Id)
			}
			for _, id := range tt.want {
				require.Contains(t, ids, id)
			}
			for _, id := range tt.not {
				require.NotContains(t, ids, id)
			}
		})
	}

	one, err := pa.GetNotificationWithResponse(ctx, resetID)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, one.StatusCode())
	require.Equal(t, "New password for Backup 100 GB", one.JSON200.Subject)
	require.Equal(t, "credentials_reset", *one.JSON200.Kind)
	require.True(t, strings.HasPrefix(one.JSON200.MessageId, resetID.String()+"@"))
	require.NotContains(t, string(one.Body), password)
	other, err := pb.GetNotificationWithResponse(ctx, resetID)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, other.StatusCode(), "another partner's mail does not exist for it")
	otherResend, err := pb.ResendNotificationWithResponse(ctx, resetID)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, otherResend.StatusCode())

	// Pages: one at a time, the cursor walks on.
	first, err := admin.ListNotificationsWithResponse(ctx, &oapi.ListNotificationsParams{Limit: ptr(1)})
	require.NoError(t, err)
	require.Len(t, first.JSON200.Data, 1)
	require.True(t, first.JSON200.HasMore)
	next, err := admin.ListNotificationsWithResponse(ctx, &oapi.ListNotificationsParams{Limit: ptr(1), Cursor: first.JSON200.NextCursor})
	require.NoError(t, err)
	require.NotEqual(t, first.JSON200.Data[0].Id, next.JSON200.Data[0].Id)
}

// TestSMTPPasswordNeverLogged: the password of SMTP_URL appears in no log
// line and no stored error, even when sending fails.
func TestSMTPPasswordNeverLogged(t *testing.T) {
	t.Parallel()
	secret := "smtp-pass-" + uuid.NewString()[:8]
	env := start(t, func(c *config.Config) {
		c.SMTPURL, c.MailFrom, c.LogLevel = "smtp://mailer:"+secret+"@127.0.0.1:1?starttls=none", from, "debug"
	})
	id := enqueue(t, env, invoiceMail(recipient()))
	require.Error(t, env.App.Mail.Send(context.Background(), id, false))
	n := row(t, env, id)
	require.Equal(t, mail.StatusQueued, n.Status)
	require.NotNil(t, n.LastError)
	require.NotContains(t, *n.LastError, secret)
	require.Contains(t, env.Logs.String(), "mail not sent")
	require.NotContains(t, env.Logs.String(), secret)

	_, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://x", "SMTP_URL": "smtp://mailer:" + secret + "@host?starttls=bogus"}[k]
	}, false)
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
}

func ptr[T any](v T) *T { return &v }

func sendJob(id uuid.UUID, attempt, maxAttempts int) *river.Job[mail.SendArgs] {
	return &river.Job[mail.SendArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: maxAttempts}, Args: mail.SendArgs{NotificationID: id}}
}
