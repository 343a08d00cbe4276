package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/invoicepdf/pdftest"
	"github.com/acronis-platform/platform/internal/mail/mailtest"
	"github.com/acronis-platform/platform/internal/subscription"
)

// mailShop is a shop whose mail goes to the test binary's Mailpit; tests
// tell their mails apart by recipient (every customer has its own address).
func mailShop(t *testing.T) (*shop, *mailtest.Server) {
	t.Helper()
	mp := mailtest.Shared(t)
	s := newShop(t, func(c *config.Config) {
		c.SMTPURL, c.MailFrom = mp.SMTPURL(), "billing@platform.example"
	})
	return s, mp
}

// mailsTo lists the mails to addr that c may see, oldest first.
func mailsTo(t *testing.T, c *oapi.ClientWithResponses, addr string) []oapi.Notification {
	t.Helper()
	params := oapi.ListNotificationsParams{Recipient: &addr}
	var out []oapi.Notification
	for {
		res, err := c.ListNotificationsWithResponse(context.Background(), &params)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		out = append(out, res.JSON200.Data...)
		if !res.JSON200.HasMore {
			return out
		}
		params.Cursor = res.JSON200.NextCursor
	}
}

// sentMails waits until no mail to addr is queued and returns them all,
// each of which must have been sent.
func sentMails(t *testing.T, c *oapi.ClientWithResponses, addr string) []oapi.Notification {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ns := mailsTo(t, c, addr)
		queued := false
		for _, n := range ns {
			queued = queued || n.Status == oapi.NotificationStatusQueued
		}
		if !queued {
			for _, n := range ns {
				require.Equal(t, oapi.NotificationStatusSent, n.Status, "%s: %v", n.Subject, n.LastError)
				require.Equal(t, 1, n.Attempts)
			}
			return ns
		}
		if time.Now().After(deadline) {
			require.Failf(t, "mails still queued", "%+v", ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func kindsOf(ns []oapi.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		if n.Kind != nil {
			out[i] = *n.Kind
		}
	}
	return out
}

// caught checks that Mailpit caught the mails ns and nothing else to addr
// (one message per mail, matched by Message-ID) and returns them by kind.
func caught(t *testing.T, mp *mailtest.Server, addr string, ns []oapi.Notification) map[oapi.MailKind]mailtest.Message {
	t.Helper()
	got := mp.Wait(t, "to:"+addr, len(ns))
	require.Len(t, got, len(ns), "one message per mail, no more")
	byID := map[string]mailtest.Summary{}
	for _, m := range got {
		byID[strings.Trim(m.MessageID, "<>")] = m
	}
	out := map[oapi.MailKind]mailtest.Message{}
	for _, n := range ns {
		m, ok := byID[n.MessageId]
		require.True(t, ok, "mail %s (%s) not caught", n.MessageId, n.Subject)
		msg := mp.Message(t, m.ID)
		require.Equal(t, n.Subject, msg.Subject)
		require.Equal(t, n.IssuerName, msg.From.Name, "sent in the issuer's name")
		require.Equal(t, "billing@platform.example", msg.From.Address)
		require.Len(t, msg.To, 1)
		require.Equal(t, addr, msg.To[0].Address)
		out[oapi.MailKind(*n.Kind)] = msg
	}
	return out
}

// requireMails waits for the mails to addr, checks they are exactly of
// kinds (each cause once) and caught once each, and returns them.
func requireMails(t *testing.T, s *shop, mp *mailtest.Server, addr string, kinds ...oapi.MailKind) ([]oapi.Notification, map[oapi.MailKind]mailtest.Message) {
	t.Helper()
	ns := sentMails(t, s.admin, addr)
	want := make([]string, len(kinds))
	for i, k := range kinds {
		want[i] = string(k)
	}
	require.ElementsMatch(t, want, kindsOf(ns), "the mails to %s", addr)
	return ns, caught(t, mp, addr, ns)
}

func mailOf(t *testing.T, ns []oapi.Notification, kind oapi.MailKind) oapi.Notification {
	t.Helper()
	for _, n := range ns {
		if n.Kind != nil && *n.Kind == string(kind) {
			return n
		}
	}
	require.Failf(t, "no mail", "of kind %s", kind)
	return oapi.Notification{}
}

func customerEmail(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID) string {
	t.Helper()
	res, err := c.GetCustomerWithResponse(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return string(res.JSON200.Email)
}

// defaultTemplates are the seeded templates by kind.
func defaultTemplates(t *testing.T, c *oapi.ClientWithResponses) map[string]oapi.EmailTemplate {
	t.Helper()
	out := map[string]oapi.EmailTemplate{}
	params := oapi.ListEmailTemplatesParams{}
	for {
		res, err := c.ListEmailTemplatesWithResponse(context.Background(), &params)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		for _, tpl := range res.JSON200.Data {
			if tpl.Kind != nil {
				out[*tpl.Kind] = tpl
			}
		}
		if !res.JSON200.HasMore {
			return out
		}
		params.Cursor = res.JSON200.NextCursor
	}
}

// overagePlan is a post-paid plan with a quantity and storage overage
// billed at 0.10 a GB over its 100 GB per unit.
func (s *shop) overagePlan(t *testing.T) string {
	t.Helper()
	id, _ := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	pr := pricing(oapi.BillingModelPostpaidFixed, cycle(oapi.Monthly, "10.00"))
	pr.EnableQuantity = ptr(true)
	pr.OveragePricePerGb = &oapi.Money{Amount: "0.10", Currency: "USD"}
	res, err := s.admin.SetPlanPricingWithResponse(context.Background(), id, pr)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return tokens(t, s.admin, id)[oapi.Monthly]
}

// storedToday records a day of storage use for a service's tenant, as a
// usage sync would.
func (s *shop) storedToday(t *testing.T, serviceID uuid.UUID, gb int64) {
	t.Helper()
	require.NoError(t, s.env.App.DB.Gorm.Exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at)
		SELECT vendor_tenant_id, storage_item, ?, ?, 'bytes', now() FROM services WHERE id = ?`,
		s.env.App.Billing.Today(), gb<<30, serviceID).Error)
}

// Each change the platform makes mails whom it concerns, once, through the
// outbox and SMTP (a real Mailpit): what the outbox lists is what arrives.
func TestMailsOfThePlatformsChanges(t *testing.T) {
	t.Parallel()
	s, mp := mailShop(t)
	ctx := context.Background()
	var refuse sync.Map // services whose suspension the test makes fail after the mail was queued
	s.env.App.Services.OnSuspended(func(_ context.Context, _ *gorm.DB, v subscription.Subscription) error {
		if _, ok := refuse.Load(v.ID); ok {
			return errs.Conflict("suspension_refused", "The test refuses this suspension.")
		}
		return nil
	})
	_, prepaidToken := s.plan(t, planOpts{autoApprove: true, cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "12.34")}})
	partnerPlan, postpaidToken := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed, partnerVisible: true})
	_, freeToken := s.plan(t, planOpts{autoApprove: true, cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "0.00")}})
	overageToken := s.overagePlan(t)
	defaults := defaultTemplates(t, s.admin)

	// A plan whose notification settings name its own suspension template
	// (and none for termination: the default).
	noticePlan, noticeToken := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	tpl, err := s.admin.CreateEmailTemplateWithResponse(ctx, nil, oapi.EmailTemplateCreate{Name: uniq("Paused"),
		Subject: "Paused: {{.Service.Name}} of {{.Company.Name}}", Body: "Dear {{.Customer.Name}}, {{.Service.Username}} is paused."})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, tpl.StatusCode(), string(tpl.Body))
	ns, err := s.admin.SetPlanNotificationSettingsWithResponse(ctx, noticePlan, oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30,
		SuspensionTemplateId: &tpl.JSON201.Id})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ns.StatusCode(), string(ns.Body))

	service := func(t *testing.T, id uuid.UUID) oapi.Service {
		r, err := s.admin.GetServiceWithResponse(ctx, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		return *r.JSON200
	}
	planName := func(t *testing.T, svc oapi.Service) string {
		r, err := s.admin.GetPlanWithResponse(ctx, svc.PlanId)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		return r.JSON200.Name
	}
	changed := func(t *testing.T, status int, body []byte) {
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, status, string(body))
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"an order placed and paid, the payment retried", func(t *testing.T) {
			body := storefrontOrder(prepaidToken, newLogin())
			res := place(t, s.env.Client(t, ""), body)
			require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
			addr := string(body.Customer.Email)
			inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
			key := uuid.NewString()
			for range 2 { // the same payment twice: one payment, one mail
				p, err := s.admin.CreateInvoicePaymentWithResponse(ctx, inv.Id, &oapi.CreateInvoicePaymentParams{IdempotencyKey: key},
					oapi.PaymentCreate{Amount: inv.Total, Method: oapi.BankTransfer, Reference: ptr("TX-1")})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
			}
			done := waitOrder(t, s.admin, res.JSON202.Id)
			require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

			ns, msgs := requireMails(t, s, mp, addr, oapi.MailKindInvoiceIssued, oapi.MailKindPaymentReceived, oapi.MailKindServiceReady)
			for _, n := range ns {
				require.Equal(t, "V", n.IssuerName, "the SP's venture issues")
				require.Nil(t, n.PartnerId)
				require.Equal(t, res.JSON202.CustomerId, *n.CustomerId)
			}
			issued := msgs[oapi.MailKindInvoiceIssued]
			require.Contains(t, issued.Subject, *inv.Number)
			require.Contains(t, issued.Text, "12.34 USD")
			require.Len(t, issued.Attachments, 1, "the invoice PDF")
			require.Equal(t, "application/pdf", issued.Attachments[0].ContentType)
			require.Equal(t, []oapi.NotificationAttachment{{Id: inv.Id, Kind: "invoice_pdf"}}, mailOf(t, ns, oapi.MailKindInvoiceIssued).Attachments)
			doc := pdftest.Read(t, mp.Part(t, issued.ID, issued.Attachments[0].PartID))
			doc.RequireRow(t, "Total 12.34 USD")
			require.Contains(t, strings.Join(doc.Rows(), "\n"), *inv.Number)

			paid := msgs[oapi.MailKindPaymentReceived]
			require.Contains(t, paid.Text, "12.34 USD")
			require.Contains(t, paid.Text, "Left to pay on it: 0.00 USD")
			require.Empty(t, paid.Attachments)

			ready := msgs[oapi.MailKindServiceReady]
			svc := service(t, done.ServiceId)
			require.NotEmpty(t, svc.PortalUrl)
			require.Contains(t, ready.Text, svc.PortalUrl, "the portal link")
			require.Contains(t, ready.Text, body.Username)
			if done.Password != nil {
				require.NotContains(t, ready.Text, *done.Password, "never the password")
			}
			require.NotRegexp(t, `(?i)password:`, ready.Text)
		}},
		{"credentials reset", func(t *testing.T) {
			o := s.activeService(t, postpaidToken)
			addr := customerEmail(t, s.admin, o.CustomerId)
			r, err := s.admin.ResetServiceCredentialsWithResponse(ctx, o.ServiceId)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			pw := r.JSON200.Password
			require.NotEmpty(t, pw)
			ns, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindCredentialsReset)
			reset := msgs[oapi.MailKindCredentialsReset]
			require.Contains(t, reset.Text, pw, "the new password, as the domain says")
			require.NotContains(t, reset.Subject, pw)
			require.NotContains(t, mailOf(t, ns, oapi.MailKindCredentialsReset).Subject, pw)
			require.NotContains(t, msgs[oapi.MailKindServiceReady].Text, pw)
		}},
		{"suspended: the default notice", func(t *testing.T) {
			o := s.activeService(t, postpaidToken)
			addr := customerEmail(t, s.admin, o.CustomerId)
			r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			changed(t, r.StatusCode(), r.Body)
			ns, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindSuspensionNotice)
			n := mailOf(t, ns, oapi.MailKindSuspensionNotice)
			require.Equal(t, defaults["suspension_notice"].Id, *n.TemplateId)
			require.Contains(t, msgs[oapi.MailKindSuspensionNotice].Subject, "is suspended")
			svc := service(t, o.ServiceId)
			require.Contains(t, msgs[oapi.MailKindSuspensionNotice].Text, planName(t, svc)+" is suspended.\r\n",
				"suspended by hand: no overdue invoice to speak of")
		}},
		{"suspended: the plan's notice", func(t *testing.T) {
			o := s.activeService(t, noticeToken)
			addr := customerEmail(t, s.admin, o.CustomerId)
			r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			changed(t, r.StatusCode(), r.Body)
			ns, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindSuspensionNotice)
			n := mailOf(t, ns, oapi.MailKindSuspensionNotice)
			require.Equal(t, tpl.JSON201.Id, *n.TemplateId, "the plan's template")
			svc := service(t, o.ServiceId)
			require.Equal(t, "Paused: "+planName(t, svc)+" of V", msgs[oapi.MailKindSuspensionNotice].Subject)
			require.Contains(t, msgs[oapi.MailKindSuspensionNotice].Text, svc.Username+" is paused.")
			// Terminated: the plan names no termination template, so the default.
			r2, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			changed(t, r2.StatusCode(), r2.Body)
			ns, _ = requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindSuspensionNotice, oapi.MailKindTerminationNotice)
			require.Equal(t, defaults["termination_notice"].Id, *mailOf(t, ns, oapi.MailKindTerminationNotice).TemplateId)
		}},
		{"terminated", func(t *testing.T) {
			o := s.activeService(t, postpaidToken)
			addr := customerEmail(t, s.admin, o.CustomerId)
			r, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			changed(t, r.StatusCode(), r.Body)
			_, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindTerminationNotice)
			require.Contains(t, msgs[oapi.MailKindTerminationNotice].Subject, "is terminated")
		}},
		{"an overage invoice", func(t *testing.T) {
			o := s.activeService(t, overageToken)
			addr := customerEmail(t, s.admin, o.CustomerId)
			s.storedToday(t, o.ServiceId, 150) // 50 GB over 100: 5.00
			r, err := s.admin.CreateServiceInvoiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			require.Len(t, r.JSON200.Data, 1)
			inv := r.JSON200.Data[0]
			require.Equal(t, oapi.InvoiceKindOverage, inv.Kind)
			require.Equal(t, "5.00", inv.Total.Amount)
			_, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindOverageInvoice)
			m := msgs[oapi.MailKindOverageInvoice]
			require.Contains(t, m.Subject, *inv.Number)
			svc := service(t, o.ServiceId)
			require.Contains(t, m.Text, planName(t, svc)+" stored more than its quota", "the service is named")
			require.Len(t, m.Attachments, 1)
			pdftest.Read(t, mp.Part(t, m.ID, m.Attachments[0].PartID)).RequireRow(t, "Total 5.00 USD")
		}},
		{"a partner's customer hears from the partner", func(t *testing.T) {
			pa, partnerA := s.activePartner(t)
			_, partnerB := s.activePartner(t)
			o := s.partnerService(t, partnerA, partnerPlan)
			addr := customerEmail(t, s.admin, o.CustomerId)
			ns, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady)
			require.Equal(t, pa.Name, ns[0].IssuerName)
			require.Equal(t, pa.Name, msgs[oapi.MailKindServiceReady].From.Name)
			require.Equal(t, pa.Id, *ns[0].PartnerId)
			mine := mailsTo(t, partnerA, addr)
			require.Len(t, mine, 1, "the partner sees its customer's mail")
			require.Equal(t, ns[0].Id, mine[0].Id)
			require.Empty(t, mailsTo(t, partnerB, addr), "another partner does not")
			other, err := partnerB.GetNotificationWithResponse(ctx, ns[0].Id)
			require.NoError(t, err)
			requireProblem(t, other.StatusCode(), other.HTTPResponse.Header, other.Body, http.StatusNotFound, "not_found")
			own, err := partnerA.GetNotificationWithResponse(ctx, ns[0].Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, own.StatusCode(), string(own.Body))
		}},
		{"a change that rolls back mails nothing", func(t *testing.T) {
			o := s.activeService(t, postpaidToken)
			addr := customerEmail(t, s.admin, o.CustomerId)
			refuse.Store(o.ServiceId, true)
			r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusConflict, "suspension_refused")
			require.Equal(t, []string{"service_ready"}, kindsOf(mailsTo(t, s.admin, addr)), "the notice rolled back with the suspension")
			refuse.Delete(o.ServiceId)
			r, err = s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			changed(t, r.StatusCode(), r.Body)
			requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindSuspensionNotice)
		}},
		{"a zero invoice mails nothing", func(t *testing.T) {
			res := place(t, s.env.Client(t, ""), storefrontOrder(freeToken, newLogin()))
			require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
			invs := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
			require.Len(t, invs, 1)
			require.Equal(t, "0.00", invs[0].Total.Amount)
			done := waitOrder(t, s.admin, res.JSON202.Id)
			require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
			requireMails(t, s, mp, customerEmail(t, s.admin, res.JSON202.CustomerId), oapi.MailKindServiceReady)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

// A post-paid month is billed on the 1st and mailed once, however often
// the run is repeated; left unpaid past its due date, the suspension and
// termination notices name it and the days it is late.
func TestPostpaidInvoiceMail(t *testing.T) {
	t.Parallel()
	s, mp := mailShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	o := s.activeService(t, token)
	addr := customerEmail(t, s.admin, o.CustomerId)
	s.env.Clock.Set(time.Date(2026, time.December, 1, 9, 0, 0, 0, time.UTC))
	for range 2 {
		_, err := s.env.App.Billing.RunNow(ctx, "test", "postpaid", s.env.App.Billing.Today())
		require.NoError(t, err)
	}
	s.admin, _ = s.env.Admin(t) // the first admin's token has expired
	invs := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &o.CustomerId})
	require.Len(t, invs, 1)
	inv := invs[0]
	require.Equal(t, oapi.InvoiceKindPostpaid, inv.Kind)
	_, msgs := requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindPostpaidInvoice)
	m := msgs[oapi.MailKindPostpaidInvoice]
	require.Contains(t, m.Subject, *inv.Number)
	require.Contains(t, m.Subject, "2026-11-01 to 2026-11-30")
	require.Contains(t, m.Text, inv.Total.Amount+" USD")
	require.Len(t, m.Attachments, 1)
	pdftest.Read(t, mp.Part(t, m.ID, m.Attachments[0].PartID)).RequireRow(t, "Total "+inv.Total.Amount+" USD")

	s.env.Clock.Set(inv.DueDate.AddDate(0, 0, 3).Add(10 * time.Hour))
	s.admin, _ = s.env.Admin(t)
	r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.StatusCode(), string(r.Body))
	s.env.Clock.Set(inv.DueDate.AddDate(0, 0, 10).Add(10 * time.Hour))
	s.admin, _ = s.env.Admin(t)
	r2, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r2.StatusCode(), string(r2.Body))
	_, msgs = requireMails(t, s, mp, addr, oapi.MailKindServiceReady, oapi.MailKindPostpaidInvoice,
		oapi.MailKindSuspensionNotice, oapi.MailKindTerminationNotice)
	require.Contains(t, msgs[oapi.MailKindSuspensionNotice].Text,
		"invoice "+*inv.Number+" of "+inv.Total.Amount+" USD is 3 days past due")
	require.Contains(t, msgs[oapi.MailKindTerminationNotice].Text,
		"invoice "+*inv.Number+" of "+inv.Total.Amount+" USD stayed unpaid 10 days past due")
}
