package simulation

import (
	"strconv"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/acronis-platform/platform/api/oapi"
)

// dunningSettings are the plans that dun, and how; the others never do.
var dunningSettings = map[string]oapi.NotificationSettings{
	"Standard": {SuspensionDays: 10, TerminationDays: 45, ReminderDays: &[]int32{-3, 0, 5}},
	"Plus":     {SuspensionDays: 20, TerminationDays: 60, ReminderDays: &[]int32{0, 10}},
	"Monthly":  {SuspensionDays: 12, TerminationDays: 40, ReminderDays: &[]int32{3}, SuspendOnCreditLimit: ptr(true)},
}

// creditLimits are what the credit_limit action sets ("" removes it).
var creditLimits = []string{"60.00", "150.00", "400.00", ""}

// setupDunning gives the dunning plans their settings, every third
// customer a credit limit and the second partner one.
func (s *sim) setupDunning() {
	for _, p := range s.plans {
		if ns, ok := dunningSettings[p.name]; ok {
			r, err := s.admin.c.SetPlanNotificationSettingsWithResponse(s.ctx, p.id, ns)
			s.must("notification settings "+p.name, r, err)
		}
	}
	for i, c := range s.customers {
		if i%3 == 0 {
			r, err := s.admin.c.UpdateCustomerWithResponse(s.ctx, c.id, nil, oapi.CustomerUpdate{CreditLimit: ptr(usd("150.00"))})
			s.must("customer credit limit", r, err)
		}
	}
	if len(s.partners) > 1 {
		r, err := s.admin.c.UpdatePartnerWithResponse(s.ctx, s.partners[1].id, nil, oapi.PartnerUpdate{CreditLimit: ptr(usd("400.00"))})
		s.must("partner credit limit", r, err)
	}
}

// pauseDunning: a customer's seller pauses its dunning for a few days, or
// lifts a pause.
func (s *sim) pauseDunning() {
	c, ok := pick(s, s.customers)
	if !ok {
		return
	}
	by := s.admin
	if c.partner != nil {
		by = c.partner.user
	}
	body := oapi.CustomerUpdate{}
	if s.rng.IntN(3) == 0 {
		body.RemoveDunningPause = ptr(true)
	} else {
		body.DunningPausedUntil = &openapi_types.Date{Time: s.date().AddDate(0, 0, 1+s.rng.IntN(8))}
	}
	r, err := by.c.UpdateCustomerWithResponse(s.ctx, c.id, nil, body)
	s.ok("dunning_pause", r, err)
}

// changeCreditLimit: the SP moves a customer's credit limit, or removes it.
func (s *sim) changeCreditLimit() {
	c, ok := pick(s, s.customers)
	if !ok {
		return
	}
	l, _ := pick(s, creditLimits)
	body := oapi.CustomerUpdate{RemoveCreditLimit: ptr(true)}
	if l != "" {
		body = oapi.CustomerUpdate{CreditLimit: ptr(usd(l))}
	}
	r, err := s.admin.c.UpdateCustomerWithResponse(s.ctx, c.id, nil, body)
	s.ok("credit_limit", r, err)
}

// checkDunning, after the day's run:
//   - dunning_runs: no dunning run queued, running, failed or interrupted;
//     an action failed only while vendor faults were on;
//   - dunning_acted: no service of a dunning plan whose customer is not
//     paused is past termination_days on its oldest unpaid invoice and
//     not terminated, or active past suspension_days with no suspension
//     done for that invoice (a suspension lifted by hand stays lifted);
//   - dunning_lifted: no service suspended for non-payment owes nothing;
//     none suspended for the credit limit whose customer is within it;
//   - credit_flag: a customer (partner) is flagged over its credit limit
//     exactly when its unpaid balance is above it (a paused customer keeps
//     its flag until the pause ends).
func (s *sim) checkDunning() {
	day := s.date().Format("2006-01-02")
	s.rows("dunning_runs", `SELECT id::text, as_of::text, status, requested_by FROM dunning_runs WHERE status <> 'completed'`, func(c []string) {
		s.fail("dunning_runs", "run/"+c[0]+"/"+c[2], "dunning run %s (as of %s, by %s) is %s after the day", c[0], c[1], c[3], c[2])
	})
	if !s.faultsAtRun {
		s.rows("dunning_runs", `SELECT a.key, coalesce(ra.error, '') FROM dunning_run_actions ra JOIN dunning_actions a ON a.id = ra.action_id
			JOIN dunning_runs r ON r.id = ra.run_id WHERE r.as_of = $1::date AND ra.result = 'failed'`, func(c []string) {
			s.fail("dunning_runs", "failed/"+c[0], "dunning action %s failed with the vendor healthy: %s", c[0], c[1])
		}, day)
	}
	s.rows("dunning_acted", `SELECT s.id::text, s.status, i.id::text, ($1::date - i.due_date)::text, n.suspension_days::text, n.termination_days::text,
			coalesce((SELECT a.status FROM dunning_actions a WHERE a.key = 'suspend:' || s.id || ':' || i.id), ''),
			coalesce((SELECT a.status FROM dunning_actions a WHERE a.key = 'terminate:' || s.id || ':' || i.id), '')
		FROM services s JOIN plan_notification_settings n ON n.plan_id = s.plan_id JOIN customers c ON c.id = s.customer_id
		JOIN LATERAL (SELECT i.id, i.due_date FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
			WHERE l.service_id = s.id AND i.status = 'unpaid' AND i.customer_id IS NOT NULL AND i.due_date IS NOT NULL
			ORDER BY i.due_date, i.issue_date, i.number LIMIT 1) i ON true
		WHERE s.status IN ('active', 'suspended') AND (c.dunning_paused_until IS NULL OR c.dunning_paused_until < $1::date)
		  AND $1::date - i.due_date >= n.suspension_days`, func(c []string) {
		past, _ := strconv.Atoi(c[3])
		term, _ := strconv.Atoi(c[5])
		failedInFaults := func(status string) bool { return status == "failed" && s.faultsAtRun }
		switch {
		case past >= term && !failedInFaults(c[7]):
			s.fail("dunning_acted", "terminate/"+c[0]+"/"+c[2], "service %s is %s, %d days past due on invoice %s (terminate at %d); its termination is %q",
				c[0], c[1], past, c[2], term, c[7])
		case past < term && c[1] == "active" && c[6] != "done" && !failedInFaults(c[6]):
			s.fail("dunning_acted", "suspend/"+c[0]+"/"+c[2], "service %s is active, %d days past due on invoice %s (suspend at %s); its suspension is %q",
				c[0], past, c[2], c[4], c[6])
		}
	}, day)
	s.rows("dunning_lifted", `SELECT s.id::text, s.suspension_reason, coalesce((SELECT string_agg(i.kind || '/' || i.status || '/' || coalesce(i.number, '-'), ', ' ORDER BY i.created_at)
			FROM invoices i WHERE i.customer_id IS NOT NULL AND i.id IN (SELECT invoice_id FROM invoice_lines WHERE service_id = s.id)), ''),
			coalesce((SELECT string_agg(o.kind || '/' || o.status || '/' || o.requested_by || '@' || o.created_at::text, ', ' ORDER BY o.seq) FROM service_operations o WHERE o.service_id = s.id), '')
			|| ' payments ' || coalesce((SELECT string_agg(i.number || '@' || p.created_at::text, ', ') FROM payments p JOIN invoices i ON i.id = p.invoice_id
				WHERE i.id IN (SELECT invoice_id FROM invoice_lines WHERE service_id = s.id)), '')
			|| ' actions ' || coalesce((SELECT string_agg(a.key || '/' || a.status || '/' || coalesce(a.outcome, '') || '@' || a.updated_at::text, ', ') FROM dunning_actions a WHERE a.service_id = s.id), '')
		FROM services s WHERE s.status = 'suspended' AND (
			(s.suspension_reason = 'overdue' AND NOT EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
				WHERE l.service_id = s.id AND i.status = 'unpaid' AND i.customer_id IS NOT NULL))
			OR (s.suspension_reason = 'credit_limit' AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id
				AND c.credit_limit < (SELECT coalesce(sum(total - amount_paid), 0) FROM invoices WHERE status = 'unpaid' AND customer_id = c.id))
				AND NOT EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id JOIN plan_notification_settings n ON n.plan_id = s.plan_id
					WHERE l.service_id = s.id AND i.status = 'unpaid' AND i.customer_id IS NOT NULL AND i.due_date + n.suspension_days <= $1::date)))`,
		func(c []string) {
			s.fail("dunning_lifted", c[0], "service %s is still suspended (%s) though what suspended it is settled; invoices %s; operations %s", c[0], c[1], c[2], c[3])
		}, day)
	flag := func(table, owner string) {
		s.rows("credit_flag", `SELECT x.id::text, coalesce(x.credit_limit::text, 'none'), b.owed::text, (x.credit_limit_exceeded_at IS NOT NULL)::text
			FROM `+table+` x CROSS JOIN LATERAL (SELECT coalesce(sum(total - amount_paid), 0) AS owed FROM invoices
				WHERE status = 'unpaid' AND `+owner+` = x.id) b
			WHERE `+pausedClause(table)+`(x.credit_limit_exceeded_at IS NOT NULL) <> (x.credit_limit IS NOT NULL AND b.owed > x.credit_limit)`,
			func(c []string) {
				s.fail("credit_flag", table+"/"+c[0]+"/"+c[3], "%s %s: limit %s, owes %s, flagged over: %s", table, c[0], c[1], c[2], c[3])
			}, day)
	}
	flag("customers", "customer_id")
	flag("partners", "partner_id")
}

// pausedClause leaves paused customers out of the credit_flag check.
func pausedClause(table string) string {
	if table == "customers" {
		return "(x.dunning_paused_until IS NULL OR x.dunning_paused_until < $1::date) AND "
	}
	return "$1::date IS NOT NULL AND "
}

// dunningMails are the mails the day's dunning caused, by kind: one per
// reminder or credit-limit alert done with its mail sent.
func (s *sim) dunningMails(want map[string]int) {
	s.rows("mail_kept", `SELECT CASE kind WHEN 'reminder' THEN 'payment_reminder' ELSE 'credit_limit_alert' END, count(*)::text
		FROM dunning_actions WHERE status = 'done' AND outcome = 'sent'
		  AND kind IN ('reminder', 'credit_alert', 'partner_credit_alert') GROUP BY 1`, func(c []string) {
		n, _ := strconv.Atoi(c[1])
		want[c[0]] += n
	})
}
