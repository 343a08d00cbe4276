package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	oapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/mail/mailtest"
)

func sandboxMode(c *config.Config) { c.Sandbox = true }

// sandboxMailShop is mailShop on the sandbox clock.
func sandboxMailShop(t *testing.T) (*shop, *mailtest.Server) {
	t.Helper()
	mp := mailtest.Shared(t)
	s := newShop(t, sandboxMode, func(c *config.Config) {
		c.SMTPURL, c.MailFrom = mp.SMTPURL(), "billing@platform.example"
	})
	return s, mp
}

// dunningPlan is a prepaid plan (10.00 monthly, auto-approved, visible to
// partners) that reminds on reminders (days from the due date), suspends
// 7 days past due and terminates 14 days past due.
func (s *shop) dunningPlan(t *testing.T, reminders ...int32) (uuid.UUID, string) {
	t.Helper()
	id, token := s.plan(t, planOpts{autoApprove: true, partnerVisible: true})
	if reminders == nil {
		reminders = []int32{}
	}
	r, err := s.admin.SetPlanNotificationSettingsWithResponse(context.Background(), id,
		oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 14, ReminderDays: &reminders})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
	// The daily job runs once as the app starts, for the day it starts
	// on; let it finish before the test moves the clock, or it may take
	// the test's own actions on the day it finds.
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, s.env.App.DB.Gorm.Raw(`SELECT count(*) FROM dunning_runs WHERE requested_by = 'system:daily' AND status = 'completed'`).
			Scan(&n).Error)
		return n > 0
	}, 30*time.Second, 20*time.Millisecond, "the start-up dunning run")
	return id, token
}

// partnerPrepaid has the partner order the plan for a new customer of its
// own, pays the customer's first invoice and waits until it is active.
func (s *shop) partnerPrepaid(t *testing.T, partner *oapi.ClientWithResponses, planID uuid.UUID) oapi.Order {
	t.Helper()
	login := newLogin()
	res, err := partner.CreateOrderWithResponse(context.Background(), nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login,
		Customer: &oapi.NewCustomer{Name: "Partner customer " + login, Email: oapiEmail(login + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, first.Id, first.Total.Amount).StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	return done
}

// advanceTo moves the sandbox clock a day at a time up to day (SP zone)
// and returns the dunning runs of the days passed.
func (s *shop) advanceTo(t *testing.T, day string) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	want, err := time.Parse(time.DateOnly, day)
	require.NoError(t, err)
	days := int(want.Sub(s.env.App.Billing.Today()).Hours() / 24)
	require.GreaterOrEqual(t, days, 0, "the clock only moves forward")
	if days == 0 {
		return nil
	}
	res, err := s.admin.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: ptr(days)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	s.admin, _ = s.env.Admin(t) // its token has expired meanwhile
	require.NotNil(t, res.JSON200.DunningRuns)
	require.Len(t, *res.JSON200.DunningRuns, days, "a dunning run a day")
	require.Equal(t, day, s.env.App.Billing.Today().Format(time.DateOnly))
	return *res.JSON200.DunningRuns
}

// mailsOfKind are the mails of kind to addr, oldest first.
func mailsOfKind(t *testing.T, c *oapi.ClientWithResponses, addr string, kind mailKind) []oapi.Notification {
	t.Helper()
	var out []oapi.Notification
	for _, n := range mailsTo(t, c, addr) {
		if n.Kind != nil && *n.Kind == string(kind) {
			out = append(out, n)
		}
	}
	return out
}

type mailKind = oapi.MailKind

const (
	reminderMail    mailKind = "payment_reminder"
	suspensionMail  mailKind = oapi.MailKindSuspensionNotice
	terminationMail mailKind = oapi.MailKindTerminationNotice
	creditAlertMail mailKind = oapi.MailKindCreditLimitAlert
)

// typedEvents are the events of typ about resource.
func typedEvents(t *testing.T, c *oapi.ClientWithResponses, typ oapi.EventType, resource uuid.UUID) []oapi.Event {
	t.Helper()
	res, err := c.ListEventsWithResponse(context.Background(), &oapi.ListEventsParams{Type: &[]oapi.EventType{typ}, ResourceId: &resource})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.Data
}

func (s *shop) svcNow(t *testing.T, id uuid.UUID) oapi.Service {
	t.Helper()
	res, err := s.admin.GetServiceWithResponse(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return *res.JSON200
}

// renewalOf is the service's unpaid renewal invoice.
func renewalOf(t *testing.T, c *oapi.ClientWithResponses, serviceID uuid.UUID) oapi.Invoice {
	t.Helper()
	unpaid := oapi.InvoiceStatusUnpaid
	invs := invoicesOf(t, c, &oapi.ListInvoicesParams{ServiceId: &serviceID, Status: &unpaid})
	for _, inv := range invs {
		if inv.Kind == oapi.InvoiceKindRenewal && inv.CustomerId != nil {
			return inv
		}
	}
	require.Fail(t, "no unpaid renewal", "service %s: %+v", serviceID, invs)
	return oapi.Invoice{}
}

// later moves the (manual) clock on and logs the admin in again.
func (s *shop) later(t *testing.T, d time.Duration) {
	t.Helper()
	s.env.Clock.Advance(d)
	s.admin, _ = s.env.Admin(t)
}

func (s *shop) dunningRun(t *testing.T, id uuid.UUID) oapi.DunningRun {
	t.Helper()
	res, err := s.admin.GetDunningRunWithResponse(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return *res.JSON200
}

func (s *shop) runActions(t *testing.T, id uuid.UUID, params oapi.ListDunningRunActionsParams) []oapi.DunningAction {
	t.Helper()
	res, err := s.admin.ListDunningRunActionsWithResponse(context.Background(), id, &params)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.Data
}

// On the sandbox clock an unpaid prepaid renewal is reminded on each of
// its plan's reminder days, once, by mail (in the partner's name for a
// partner's customer) and by event; days between remind no one, and the
// day's dunning run lists what it did.
func TestDunningRemindsOnTheirDays(t *testing.T) {
	t.Parallel()
	s, mp := sandboxMailShop(t)
	planID, token := s.dunningPlan(t, -3, 0, 3)
	direct := s.paidPrepaidService(t, token)
	p, partner := s.activePartner(t)
	viaPartner := s.partnerPrepaid(t, partner, planID)
	addrs := map[uuid.UUID]string{direct.ServiceId: customerEmail(t, s.admin, direct.CustomerId),
		viaPartner.ServiceId: customerEmail(t, s.admin, viaPartner.CustomerId)}

	// The service renews on 2026-12-25; its renewal is issued a week before.
	for _, step := range []struct {
		day       string
		reminders int
	}{{"2026-12-21", 0}, {"2026-12-22", 1}, {"2026-12-24", 1}, {"2026-12-25", 2}, {"2026-12-27", 2}, {"2026-12-28", 3}, {"2026-12-30", 3}} {
		runs := s.advanceTo(t, step.day)
		for id, addr := range addrs {
			require.Len(t, mailsOfKind(t, s.admin, addr, reminderMail), step.reminders, "%s: reminders to %s", step.day, addr)
			require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, id).Status)
		}
		if step.day == "2026-12-22" {
			run := s.dunningRun(t, runs[len(runs)-1])
			require.Equal(t, oapi.DunningRunStatusCompleted, run.Status)
			require.Equal(t, 2, run.Reminders, "one per customer")
			require.GreaterOrEqual(t, run.Checked, 2)
			require.Zero(t, run.Failed)
			acts := s.runActions(t, run.Id, oapi.ListDunningRunActionsParams{Kind: ptr(oapi.DunningActionKindReminder)})
			require.Len(t, acts, 2)
			for _, a := range acts {
				require.Equal(t, oapi.DunningActionResultDone, a.Result)
				require.Equal(t, "sent", *a.Outcome)
			}
			one := s.runActions(t, run.Id, oapi.ListDunningRunActionsParams{ServiceId: &direct.ServiceId})
			require.Len(t, one, 1)
			require.Equal(t, direct.ServiceId, *one[0].ServiceId)
		}
	}
	for id, addr := range addrs {
		ns := sentMails(t, s.admin, addr)
		var reminders []oapi.Notification
		for _, n := range ns {
			if n.Kind != nil && *n.Kind == string(reminderMail) {
				reminders = append(reminders, n)
			}
		}
		require.Len(t, reminders, 3)
		got := mp.Wait(t, "to:"+addr+` subject:"Payment reminder"`, 3)
		require.Len(t, got, 3, "each reminder arrives once")
		inv := renewalOf(t, s.admin, id)
		require.Len(t, typedEvents(t, s.admin, oapi.EventTypeInvoicePaymentReminder, inv.Id), 3)
		if id == viaPartner.ServiceId {
			for _, n := range reminders {
				require.Equal(t, p.Name, n.IssuerName, "a partner's customer is reminded in the partner's name")
			}
			msg := mp.Message(t, got[0].ID)
			require.Equal(t, p.Name, msg.From.Name)
			require.Contains(t, msg.Text, inv.Total.Amount)
		}
	}
}

// An unpaid renewal: reminded, suspended at the vendor then on the
// platform 7 days past due (mail, event), terminated 14 days past due; a
// service whose renewal is paid between suspension and termination is
// active again and never terminated.
func TestDunningSuspendsThenTerminates(t *testing.T) {
	t.Parallel()
	s, mp := sandboxMailShop(t)
	_, token := s.dunningPlan(t, 0)
	unpaid := s.paidPrepaidService(t, token)
	payer := s.paidPrepaidService(t, token)
	tenant := map[uuid.UUID]string{unpaid.ServiceId: s.tenantOf(t, unpaid.ServiceId), payer.ServiceId: s.tenantOf(t, payer.ServiceId)}
	ctx := context.Background()

	s.advanceTo(t, "2026-12-31")
	for _, id := range []uuid.UUID{unpaid.ServiceId, payer.ServiceId} {
		require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, id).Status, "6 days past due")
	}
	runs := s.advanceTo(t, "2027-01-01")
	for _, o := range []oapi.Order{unpaid, payer} {
		v := s.svcNow(t, o.ServiceId)
		require.Equal(t, oapi.ServiceStatusSuspended, v.Status, "7 days past due")
		ten, err := s.vc.GetTenant(ctx, tenant[o.ServiceId])
		require.NoError(t, err)
		require.False(t, ten.Enabled, "disabled at the vendor")
		addr := customerEmail(t, s.admin, o.CustomerId)
		require.Len(t, mailsOfKind(t, s.admin, addr, suspensionMail), 1)
		mp.Wait(t, "to:"+addr+" subject:suspended", 1)
		require.Len(t, typedEvents(t, s.admin, oapi.EventTypeServiceSuspended, o.ServiceId), 1)
	}
	run := s.dunningRun(t, runs[0])
	require.Equal(t, 2, run.Suspended)
	require.Len(t, s.runActions(t, run.Id, oapi.ListDunningRunActionsParams{Kind: ptr(oapi.DunningActionKindSuspend)}), 2)

	// Paid on the 3rd: active again, at the vendor too.
	inv := renewalOf(t, s.admin, payer.ServiceId)
	s.advanceTo(t, "2027-01-03")
	require.Equal(t, http.StatusCreated, pay(t, s.admin, inv.Id, inv.Total.Amount).StatusCode())
	require.Eventually(t, func() bool {
		ten, err := s.vc.GetTenant(ctx, tenant[payer.ServiceId])
		return err == nil && ten.Enabled
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, payer.ServiceId).Status)

	s.advanceTo(t, "2027-01-07")
	require.Equal(t, oapi.ServiceStatusSuspended, s.svcNow(t, unpaid.ServiceId).Status, "13 days past due")
	runs = s.advanceTo(t, "2027-01-08")
	require.Equal(t, oapi.ServiceStatusTerminated, s.svcNow(t, unpaid.ServiceId).Status, "14 days past due")
	require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, payer.ServiceId).Status, "paid: never terminated")
	addr := customerEmail(t, s.admin, unpaid.CustomerId)
	require.Len(t, mailsOfKind(t, s.admin, addr, terminationMail), 1)
	require.Len(t, typedEvents(t, s.admin, oapi.EventTypeServiceTerminated, unpaid.ServiceId), 1)
	require.Equal(t, 1, s.dunningRun(t, runs[0]).Terminated)
	_, err := s.vc.GetTenant(ctx, tenant[unpaid.ServiceId])
	require.Error(t, err, "the tenant is deleted at the vendor")

	// Days later nothing happens twice.
	s.advanceTo(t, "2027-01-12")
	require.Len(t, mailsOfKind(t, s.admin, addr, suspensionMail), 1)
	require.Len(t, mailsOfKind(t, s.admin, addr, terminationMail), 1)
	require.Len(t, mailsOfKind(t, s.admin, customerEmail(t, s.admin, payer.CustomerId), terminationMail), 0)
	require.Len(t, typedEvents(t, s.admin, oapi.EventTypeServiceSuspended, unpaid.ServiceId), 1)
}

// unpaidRenewals makes n paid prepaid services on a dunning plan, moves
// the (manual) clock to their due date and bills their renewals, unpaid.
func (s *shop) unpaidRenewals(t *testing.T, n int, reminders ...int32) []oapi.Order {
	t.Helper()
	_, token := s.dunningPlan(t, reminders...)
	out := make([]oapi.Order, n)
	for i := range out {
		out[i] = s.paidPrepaidService(t, token)
	}
	s.later(t, 30*24*time.Hour) // 2026-12-25: the due date
	_, err := s.env.App.Billing.RunNow(context.Background(), "test", "all", s.env.App.Billing.Today())
	require.NoError(t, err)
	for _, o := range out {
		renewalOf(t, s.admin, o.ServiceId)
	}
	return out
}

// A vendor failing during a suspension: the service stays active on the
// platform and at the vendor, the run lists the failure and the action
// failed; the next run suspends it.
func TestDunningVendorFaultDuringSuspension(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	o := s.unpaidRenewals(t, 1)[0]
	tenant := s.tenantOf(t, o.ServiceId)
	s.later(t, 7*24*time.Hour) // 7 days past due

	s.vendor.SetFault(sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/", Status: http.StatusServiceUnavailable, Rate: 1})
	run, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err, "a vendor failure does not stop the run")
	got := s.dunningRun(t, run.ID)
	require.Equal(t, oapi.DunningRunStatusCompleted, got.Status)
	require.Equal(t, 1, got.Failed)
	require.Zero(t, got.Suspended)
	require.Len(t, got.Failures, 1)
	require.Contains(t, got.Failures[0].What, o.ServiceId.String())
	require.Contains(t, got.Failures[0].Reason, "503", "the vendor's failure")
	failed := s.runActions(t, run.ID, oapi.ListDunningRunActionsParams{Result: ptr(oapi.DunningActionResultFailed)})
	require.Len(t, failed, 1)
	require.Equal(t, oapi.DunningActionKindSuspend, failed[0].Kind)
	require.NotNil(t, failed[0].Error)
	require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, o.ServiceId).Status, "the platform is unchanged")
	ten, err := s.vc.GetTenant(ctx, tenant)
	require.NoError(t, err)
	require.True(t, ten.Enabled)

	s.vendor.ClearFaults()
	again, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, s.dunningRun(t, again.ID).Suspended, "the next run retries it: %+v %+v", s.dunningRun(t, again.ID),
		s.runActions(t, again.ID, oapi.ListDunningRunActionsParams{}))
	done := s.runActions(t, again.ID, oapi.ListDunningRunActionsParams{Kind: ptr(oapi.DunningActionKindSuspend)})
	require.Len(t, done, 1)
	require.Equal(t, failed[0].ActionId, done[0].ActionId, "the same action")
	require.Equal(t, oapi.DunningActionResultDone, done[0].Result)
	require.Equal(t, oapi.ServiceStatusSuspended, s.svcNow(t, o.ServiceId).Status)
	ten, err = s.vc.GetTenant(ctx, tenant)
	require.NoError(t, err)
	require.False(t, ten.Enabled)
}

// reminderCounts is how many reminder mails each invoice got.
func (s *shop) reminderCounts(t *testing.T, orders []oapi.Order) map[uuid.UUID]int {
	t.Helper()
	out := map[uuid.UUID]int{}
	for _, o := range orders {
		out[o.ServiceId] = len(mailsOfKind(t, s.admin, customerEmail(t, s.admin, o.CustomerId), reminderMail))
	}
	return out
}

func each(orders []oapi.Order, n int) map[uuid.UUID]int {
	out := map[uuid.UUID]int{}
	for _, o := range orders {
		out[o.ServiceId] = n
	}
	return out
}

// Runs repeated, run side by side (two instances) or stopped halfway and
// run again do each action once.
func TestDunningActsOnce(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	orders := s.unpaidRenewals(t, 6, 0, 1)
	d := s.env.App.Dunning
	today := s.env.App.Billing.Today()

	// Two at once.
	var wg sync.WaitGroup
	runs := make([]dunning.Run, 2)
	for i := range runs {
		wg.Go(func() {
			r, err := d.RunNow(ctx, "test", today)
			require.NoError(t, err)
			runs[i] = r
		})
	}
	wg.Wait()
	require.Equal(t, 6, runs[0].Reminders+runs[1].Reminders, "each reminder by one of them")
	require.Equal(t, each(orders, 1), s.reminderCounts(t, orders))
	for _, o := range orders {
		require.Len(t, typedEvents(t, s.admin, oapi.EventTypeInvoicePaymentReminder, renewalOf(t, s.admin, o.ServiceId).Id), 1)
	}

	// Again: nothing left.
	r, err := d.RunNow(ctx, "test", today)
	require.NoError(t, err)
	require.Zero(t, r.Reminders)
	require.Equal(t, each(orders, 1), s.reminderCounts(t, orders))

	// Next day, stopped after two actions, then run again.
	s.later(t, 24*time.Hour)
	stopCtx, stop := context.WithCancel(ctx)
	var mu sync.Mutex
	seen := 0
	d.BeforeAct(func(dunning.Action) {
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen > 2 {
			stop()
		}
	})
	_, err = d.RunNow(stopCtx, "test", s.env.App.Billing.Today())
	require.Error(t, err, "stopped halfway")
	d.BeforeAct(nil)
	list, err := s.admin.ListDunningRunsWithResponse(ctx, &oapi.ListDunningRunsParams{Limit: ptr(200)})
	require.NoError(t, err)
	stopped := list.JSON200.Data[len(list.JSON200.Data)-1]
	require.Equal(t, oapi.DunningRunStatusInterrupted, stopped.Status)
	require.Less(t, stopped.Reminders, 6)
	// A process killed there leaves its claims and its run running: another
	// run leaves them alone until the run is found stale, then takes them.
	db := s.env.App.DB.Gorm
	require.NoError(t, db.Exec(`UPDATE dunning_actions SET claimed_by = ?, claimed_until = ? WHERE status <> 'done'`,
		stopped.Id, s.env.Clock.Now().Add(time.Hour)).Error)
	require.NoError(t, db.Exec(`UPDATE dunning_runs SET status = 'running' WHERE id = ?`, stopped.Id).Error)
	held, err := d.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Zero(t, held.Reminders, "held by a run still taken for alive")
	s.env.Clock.Advance(time.Minute)
	n, err := d.MarkInterrupted(ctx, time.Second)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	resumed, err := d.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 6, stopped.Reminders+resumed.Reminders, "the rest, and only the rest")
	require.Equal(t, each(orders, 2), s.reminderCounts(t, orders))
}

// A customer whose dunning is paused gets no reminder until the pause
// ends; then the latest reminder reached is sent (not every one missed).
func TestDunningPause(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	orders := s.unpaidRenewals(t, 2, 0, 1, 2)
	paused, other := orders[0], orders[1]
	until := s.env.App.Billing.Today().AddDate(0, 0, 1)
	s.patchCustomer(t, paused.CustomerId, oapi.CustomerUpdate{DunningPausedUntil: &oapi_types.Date{Time: until}})

	for range 2 { // the due date and the day after: paused
		_, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
		require.NoError(t, err)
		s.later(t, 24*time.Hour)
	}
	require.Equal(t, map[uuid.UUID]int{paused.ServiceId: 0, other.ServiceId: 2}, s.reminderCounts(t, orders))
	// Two days past due, the pause over: one reminder, the latest.
	r, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 2, r.Reminders)
	require.Equal(t, map[uuid.UUID]int{paused.ServiceId: 1, other.ServiceId: 3}, s.reminderCounts(t, orders))
	acts := s.runActions(t, r.ID, oapi.ListDunningRunActionsParams{CustomerId: &paused.CustomerId})
	require.Len(t, acts, 1)
	require.Contains(t, acts[0].Key, ":2", "the offset reached")
}

// A customer above its credit limit is alerted once per crossing (mail,
// event); back within, the next crossing alerts again. A partner above
// its limit is alerted the same way.
func TestDunningCreditLimitCrossing(t *testing.T) {
	t.Parallel()
	s, mp := mailShop(t)
	ctx := context.Background()
	_, token := s.dunningPlan(t)
	// An unpaid first invoice (10.00) over a limit of 5.00.
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	cust := res.JSON202.CustomerId
	upd, err := s.admin.UpdateCustomerWithResponse(ctx, cust, &oapi.UpdateCustomerParams{},
		oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "5.00", Currency: "USD"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, upd.StatusCode(), string(upd.Body))
	addr := customerEmail(t, s.admin, cust)
	run := func() dunning.Run {
		r, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
		require.NoError(t, err)
		return r
	}
	exceeded := func() bool {
		var row struct{ At *time.Time }
		require.NoError(t, s.env.App.DB.Gorm.Raw(`SELECT credit_limit_exceeded_at AS at FROM customers WHERE id = ?`, cust).Scan(&row).Error)
		return row.At != nil
	}

	first := run()
	require.Equal(t, 1, first.CreditAlerts)
	require.True(t, exceeded())
	require.Zero(t, run().CreditAlerts, "alerted once per crossing")
	require.Len(t, mailsOfKind(t, s.admin, addr, creditAlertMail), 1)
	require.Len(t, typedEvents(t, s.admin, oapi.EventTypeCustomerCreditLimitExceeded, cust), 1)
	msg := mp.Message(t, mp.Wait(t, "to:"+addr+" subject:credit", 1)[0].ID)
	require.Contains(t, msg.Text, "10.00 USD")
	require.Contains(t, msg.Text, "5.00 USD")

	// Paid: within; the flag goes. Unpaid again: a new crossing.
	inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &cust})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, inv.Id, inv.Total.Amount).StatusCode())
	waitOrder(t, s.admin, res.JSON202.Id)
	require.Zero(t, run().CreditAlerts)
	require.False(t, exceeded())
	s.patchCustomer(t, cust, oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "0.00", Currency: "USD"}})
	s.later(t, 30*24*time.Hour)
	_, err = s.env.App.Billing.RunNow(ctx, "test", "all", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, run().CreditAlerts, "the second crossing")
	require.Len(t, mailsOfKind(t, s.admin, addr, creditAlertMail), 2)

	// A partner over its limit: its bills at cost are unpaid.
	p, partner := s.activePartner(t)
	planID, _ := s.dunningPlan(t)
	s.partnerPrepaid(t, partner, planID)
	lim, err := s.admin.UpdatePartnerWithResponse(ctx, p.Id, nil, oapi.PartnerUpdate{CreditLimit: &oapi.Money{Amount: "0.01", Currency: "USD"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, lim.StatusCode(), string(lim.Body))
	r := run()
	require.Equal(t, 1, r.CreditAlerts)
	require.Zero(t, run().CreditAlerts)
	pm := mailsOfKind(t, s.admin, string(p.Email), creditAlertMail)
	require.Len(t, pm, 1)
	require.Len(t, typedEvents(t, s.admin, oapi.EventTypePartnerCreditLimitExceeded, p.Id), 1)
	acts := s.runActions(t, r.ID, oapi.ListDunningRunActionsParams{Kind: ptr(oapi.DunningActionKindPartnerCreditAlert)})
	require.Len(t, acts, 1)
	require.Equal(t, p.Id, *acts[0].PartnerId)
}

// A plan that suspends on the credit limit: a customer above its limit is
// alerted and its service suspended (reason credit_limit); back within
// its limit (raised here, not paid), the next run lifts the suspension.
func TestDunningCreditLimitSuspension(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	o := s.unpaidRenewals(t, 1)[0]
	tenant := s.tenantOf(t, o.ServiceId)
	db := s.env.App.DB.Gorm
	ns, err := s.admin.SetPlanNotificationSettingsWithResponse(ctx, s.svcNow(t, o.ServiceId).PlanId,
		oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 14, SuspendOnCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ns.StatusCode(), string(ns.Body))
	s.patchCustomer(t, o.CustomerId, oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "5.00", Currency: "USD"}})

	r, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, r.CreditAlerts)
	require.Equal(t, 1, r.Suspended)
	v := s.svcNow(t, o.ServiceId)
	require.Equal(t, oapi.ServiceStatusSuspended, v.Status, "over its limit, not yet past due")
	var reason struct{ R *string }
	require.NoError(t, db.Raw(`SELECT suspension_reason AS r FROM services WHERE id = ?`, o.ServiceId).Scan(&reason).Error)
	require.Equal(t, "credit_limit", *reason.R)
	ten, err := s.vc.GetTenant(ctx, tenant)
	require.NoError(t, err)
	require.False(t, ten.Enabled)
	again, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Zero(t, again.Suspended+again.CreditAlerts, "once per crossing")

	s.patchCustomer(t, o.CustomerId, oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "50.00", Currency: "USD"}})
	lift, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, lift.Unsuspended)
	require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, o.ServiceId).Status)
	require.Eventually(t, func() bool {
		ten, err := s.vc.GetTenant(ctx, tenant)
		return err == nil && ten.Enabled
	}, 30*time.Second, 50*time.Millisecond, "enabled at the vendor again")
	var flag struct{ At *time.Time }
	require.NoError(t, db.Raw(`SELECT credit_limit_exceeded_at AS at FROM customers WHERE id = ?`, o.CustomerId).Scan(&flag).Error)
	require.Nil(t, flag.At, "back within: the flag is cleared")
}

// A credit suspension is not lifted while the service's invoice is past
// its plan's suspension_days: within the limit again, it stays suspended
// until that invoice is paid.
func TestDunningCreditSuspensionStaysWhileOverdue(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	o := s.unpaidRenewals(t, 1)[0]
	ns, err := s.admin.SetPlanNotificationSettingsWithResponse(ctx, s.svcNow(t, o.ServiceId).PlanId,
		oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 14, SuspendOnCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ns.StatusCode(), string(ns.Body))
	s.patchCustomer(t, o.CustomerId, oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "5.00", Currency: "USD"}})
	r, err := s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, r.Suspended)

	s.later(t, 8*24*time.Hour) // past suspension_days
	s.patchCustomer(t, o.CustomerId, oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "500.00", Currency: "USD"}})
	r, err = s.env.App.Dunning.RunNow(ctx, "test", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Zero(t, r.Unsuspended, "within the limit, but overdue")
	require.Equal(t, oapi.ServiceStatusSuspended, s.svcNow(t, o.ServiceId).Status)

	owed := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &o.CustomerId, Status: ptr(oapi.InvoiceStatusUnpaid)})
	require.Len(t, owed, 1)
	require.Equal(t, http.StatusCreated, pay(t, s.admin, owed[0].Id, owed[0].Total.Amount).StatusCode())
	require.Equal(t, oapi.ServiceStatusActive, s.svcNow(t, o.ServiceId).Status, "paid: lifted")
}

// POST /v1/dunning-runs queues a run (202) that the job does; it honours
// Idempotency-Key; bad inputs are refused and nothing is queued; only
// admins may see or start runs.
func TestDunningRunsAPI(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	// The daily job ran for today on start, once.
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, s.env.App.DB.Gorm.Raw(`SELECT count(*) FROM dunning_runs WHERE requested_by = 'system:daily' AND status = 'completed'
			AND as_of = ?`, s.env.App.Billing.Today()).Scan(&n).Error)
		return n == 1
	}, 30*time.Second, 50*time.Millisecond)

	key := uuid.NewString()
	res, err := s.admin.CreateDunningRunWithResponse(ctx, &oapi.CreateDunningRunParams{IdempotencyKey: &key}, oapi.DunningRunCreate{})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.DunningRunStatusQueued, res.JSON202.Status)
	require.Equal(t, s.env.App.Billing.Today().Format(time.DateOnly), res.JSON202.AsOf.Format(time.DateOnly))
	again, err := s.admin.CreateDunningRunWithResponse(ctx, &oapi.CreateDunningRunParams{IdempotencyKey: &key}, oapi.DunningRunCreate{})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, again.StatusCode())
	require.Equal(t, "true", again.HTTPResponse.Header.Get("Idempotent-Replayed"))
	require.Equal(t, res.JSON202.Id, again.JSON202.Id, "one run per key")
	require.Eventually(t, func() bool {
		return s.dunningRun(t, res.JSON202.Id).Status == oapi.DunningRunStatusCompleted
	}, 30*time.Second, 50*time.Millisecond)
	past := oapi_types.Date{Time: s.env.App.Billing.Today().AddDate(0, 0, -3)}
	old, err := s.admin.CreateDunningRunWithResponse(ctx, nil, oapi.DunningRunCreate{AsOf: &past})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, old.StatusCode(), string(old.Body))
	require.Equal(t, past.Format(time.DateOnly), old.JSON202.AsOf.Format(time.DateOnly))

	before := countRows(t, s.env, "dunning_runs")
	future := oapi_types.Date{Time: s.env.App.Billing.Today().AddDate(0, 0, 1)}
	bad, err := s.admin.CreateDunningRunWithResponse(ctx, nil, oapi.DunningRunCreate{AsOf: &future})
	require.NoError(t, err)
	pr := requireProblem(t, bad.StatusCode(), bad.HTTPResponse.Header, bad.Body, http.StatusUnprocessableEntity, "as_of_in_future")
	_ = pr
	require.Equal(t, before, countRows(t, s.env, "dunning_runs"), "nothing queued")

	unknown, err := s.admin.GetDunningRunWithResponse(ctx, uuid.New())
	require.NoError(t, err)
	requireProblem(t, unknown.StatusCode(), unknown.HTTPResponse.Header, unknown.Body, http.StatusNotFound, "not_found")
	unknownActs, err := s.admin.ListDunningRunActionsWithResponse(ctx, uuid.New(), nil)
	require.NoError(t, err)
	requireProblem(t, unknownActs.StatusCode(), unknownActs.HTTPResponse.Header, unknownActs.Body, http.StatusNotFound, "not_found")
	badCursor, err := s.admin.ListDunningRunsWithResponse(ctx, &oapi.ListDunningRunsParams{Cursor: ptr("nope")})
	require.NoError(t, err)
	requireProblem(t, badCursor.StatusCode(), badCursor.HTTPResponse.Header, badCursor.Body, http.StatusBadRequest, "validation_failed")

	_, partnerToken := s.env.PartnerUser(t, nil)
	_, customerToken := s.env.CustomerUser(t, nil)
	for _, tok := range []string{partnerToken, customerToken} {
		c := s.env.Client(t, tok)
		post, err := c.CreateDunningRunWithResponse(ctx, nil, oapi.DunningRunCreate{})
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, post.StatusCode(), string(post.Body))
		list, err := c.ListDunningRunsWithResponse(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, list.StatusCode())
		get, err := c.GetDunningRunWithResponse(ctx, res.JSON202.Id)
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, get.StatusCode())
		acts, err := c.ListDunningRunActionsWithResponse(ctx, res.JSON202.Id, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, acts.StatusCode())
	}
	require.Equal(t, before, countRows(t, s.env, "dunning_runs"))
}

// patchCustomer changes a customer as its admin would.
func (s *shop) patchCustomer(t *testing.T, id uuid.UUID, body oapi.CustomerUpdate) {
	t.Helper()
	r, err := s.admin.UpdateCustomerWithResponse(context.Background(), id, nil, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
}
