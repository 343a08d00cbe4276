package simulation

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
)

// check runs every invariant on the shop as it stands after the day.
func (s *sim) check() {
	s.settle()
	svcs := s.services()
	heads := s.invoices(oapi.ListInvoicesParams{})
	var invs []oapi.Invoice
	for _, h := range heads {
		if inv, ok := s.invoice(h); ok {
			invs = append(invs, inv)
		}
	}
	s.checkRuns(invs)
	s.checkOrders()
	for _, inv := range invs {
		s.checkArithmetic(inv)
	}
	s.checkNumbers(invs)
	s.checkPeriods(invs)
	s.checkPairs(invs)
	s.checkServices(svcs, invs)
	s.checkCredits(svcs)
	s.checkMetadata(svcs)
	s.checkEvents()
	s.checkMail()
	s.checkWebhooks()
	s.checkDunning()
	s.checkMargin(invs, svcs)
	if s.spell == nil {
		s.checkOperations()
		s.checkVendor(svcs)
		s.reconcile(svcs)
	}
}

// rows runs a read-only query and hands each row's text columns to each;
// a failed query is a break of what it reads for.
func (s *sim) rows(invariant, q string, each func(cols []string), args ...any) {
	rs, err := s.ro.Query(s.ctx, q, args...)
	if err != nil {
		s.fail(invariant, "sql/"+uuid.NewString(), "reading: %v", err)
		return
	}
	defer rs.Close()
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			s.fail(invariant, "sql/"+uuid.NewString(), "reading: %v", err)
			return
		}
		cols := make([]string, len(vals))
		for i, v := range vals {
			cols[i] = fmt.Sprint(v)
		}
		each(cols)
	}
}

// checkCredits: credit_kept, credit_shown and credit_reported.
//   - every credit is what is left of it plus what invoices not void took
//     of it, and each invoice's credit lines are what it took;
//   - open credit is never passed over: no bill to its party by its issuer
//     issued on a later day has a total above zero (credit is taken up to
//     the bill, so such a bill means the credit was stranded, say on a
//     terminated service);
//   - GET /v1/customers/{id} shows the open credit per issuer;
//   - the credits a change created are the ones it answered with.
func (s *sim) checkCredits(svcs []oapi.Service) {
	s.rows("credit_kept", `SELECT c.id::text, c.amount::text, c.remaining::text, coalesce(sum(a.amount), 0)::text, coalesce(c.service_id::text, '') FROM credits c
		LEFT JOIN credit_applications a ON a.credit_id = c.id GROUP BY c.id
		HAVING c.amount <> c.remaining + coalesce(sum(a.amount), 0) OR c.remaining < 0 OR c.remaining > c.amount`, func(c []string) {
		s.fail("credit_kept", "sum/"+c[0], "credit %s (service %s) of %s: %s left + %s applied", c[0], c[4], c[1], c[2], c[3])
	})
	s.rows("credit_kept", `SELECT i.id::text, coalesce(i.number, ''), i.status, coalesce((SELECT sum(a.amount) FROM credit_applications a WHERE a.invoice_id = i.id), 0)::text,
		coalesce((SELECT -sum(l.amount) FROM invoice_lines l WHERE l.invoice_id = i.id AND l.kind = 'credit' AND l.detail ? 'credits'), 0)::text
		FROM invoices i WHERE EXISTS (SELECT 1 FROM credit_applications a WHERE a.invoice_id = i.id)
		   OR EXISTS (SELECT 1 FROM invoice_lines l WHERE l.invoice_id = i.id AND l.kind = 'credit' AND l.detail ? 'credits')`, func(c []string) {
		applied, lines := decimal.RequireFromString(c[3]), decimal.RequireFromString(c[4])
		switch {
		case c[2] == string(oapi.InvoiceStatusVoid) && applied.IsPositive():
			s.fail("credit_kept", "void/"+c[0], "void invoice %s still holds %s of credit", c[1], applied)
		case c[2] != string(oapi.InvoiceStatusVoid) && !applied.Equal(lines):
			s.fail("credit_kept", "lines/"+c[0], "invoice %s took %s of credit, its credit lines say %s", c[1], applied, lines)
		}
	})
	s.rows("credit_kept", `SELECT c.id::text, c.remaining::text, coalesce(c.service_id::text, ''), coalesce(sv.status, ''), i.number, i.total::text
		FROM credits c LEFT JOIN services sv ON sv.id = c.service_id
		JOIN LATERAL (SELECT i.number, i.total FROM invoices i
			WHERE i.status <> 'void' AND i.total > 0 AND i.issue_date > c.created_at::date
			  AND ((c.customer_id IS NOT NULL AND i.customer_id = c.customer_id AND i.issuer_partner_id IS NOT DISTINCT FROM c.issuer_partner_id
			        AND (c.issuer_partner_id IS NOT NULL OR i.venture_id = c.venture_id))
			    OR (c.partner_id IS NOT NULL AND i.partner_id = c.partner_id AND i.venture_id = c.venture_id))
			ORDER BY i.issue_date LIMIT 1) i ON true
		WHERE c.remaining > 0`, func(c []string) {
		s.fail("credit_kept", "stranded/"+c[0], "credit %s (service %s, %s) has %s left, yet invoice %s to its party by its issuer came to %s", c[0], c[2], c[3], c[1], c[4], c[5])
	})
	// Open credit per customer and issuer, as the customer's page must show it.
	open := map[uuid.UUID]map[string]decimal.Decimal{}
	s.rows("credit_shown", `SELECT customer_id::text, coalesce(issuer_partner_id, venture_id)::text, sum(remaining)::text FROM credits
		WHERE customer_id IS NOT NULL GROUP BY 1, 2`, func(c []string) {
		id := uuid.MustParse(c[0])
		if open[id] == nil {
			open[id] = map[string]decimal.Decimal{}
		}
		if v := decimal.RequireFromString(c[2]); v.IsPositive() {
			open[id][c[1]] = v
		}
	})
	for id, want := range open {
		r, err := s.admin.c.GetCustomerWithResponse(s.ctx, id)
		if !s.ok("get_customer", r, err) {
			continue
		}
		got := map[string]decimal.Decimal{}
		if r.JSON200.CreditBalances != nil {
			for _, b := range *r.JSON200.CreditBalances {
				got[b.Issuer.Id.String()] = dec(b.Balance)
			}
		}
		if !sameAmounts(got, want) {
			s.fail("credit_shown", fmt.Sprintf("%s/%v", id, want), "customer %s shows credit %v, it holds %v", id, got, want)
		}
	}
	// What each change said it credited, against what was stored.
	stored := map[uuid.UUID]decimal.Decimal{}
	s.rows("credit_reported", `SELECT service_id::text, sum(amount)::text FROM credits WHERE service_id IS NOT NULL GROUP BY 1`, func(c []string) {
		stored[uuid.MustParse(c[0])] = decimal.RequireFromString(c[1])
	})
	for _, v := range svcs {
		if s.unreported[v.Id] || stored[v.Id].Equal(s.credited[v.Id]) {
			continue
		}
		s.fail("credit_reported", fmt.Sprintf("%s/%s", v.Id, stored[v.Id]), "service %s (%s): its changes answered with %s of credit, %s was stored",
			v.Id, s.planByID(v.PlanId).name, s.credited[v.Id], stored[v.Id])
	}
}

func sameAmounts(a, b map[string]decimal.Decimal) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !v.Equal(b[k]) {
			return false
		}
	}
	return true
}

// checkOperations: ops_converge. With the vendor healthy, every service
// operation ends succeeded: none is left pending or running (after a
// moment for retries backing off from a spell of faults), none failed.
func (s *sim) checkOperations() {
	type op struct{ id, service, kind, status, attempts, lastError string }
	var left []op
	read := func() {
		left = nil
		s.rows("ops_converge", `SELECT id::text, service_id::text, kind, status, attempts::text, coalesce(last_error, '') FROM service_operations
			WHERE status <> 'succeeded' ORDER BY seq`, func(c []string) {
			left = append(left, op{c[0], c[1], c[2], c[3], c[4], c[5]})
		})
	}
	read()
	if slices.ContainsFunc(left, func(o op) bool { return o.status != "failed" }) {
		waitFor(10*time.Second, func() bool {
			read()
			return !slices.ContainsFunc(left, func(o op) bool { return o.status != "failed" })
		})
	}
	for _, o := range left {
		s.fail("ops_converge", o.id+"/"+o.status, "service %s: %s operation %s %s after %s tries with the vendor healthy: %s", o.service, o.kind, o.id, o.status, o.attempts, o.lastError)
	}
}

// settle waits for the day's jobs to finish, mails and webhook deliveries
// included (bounded; see quiesce).
func (s *sim) settle() { s.waitJobs(true) }

func dec(m oapi.Money) decimal.Decimal { return decimal.RequireFromString(m.Amount) }

func date(d *openapi_types.Date) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

func ds(t time.Time) string { return t.Format(time.DateOnly) }

// runs_finish: nothing queued or running after the day; a finished run
// counts the invoices it made.
func (s *sim) checkRuns(invs []oapi.Invoice) {
	made := map[uuid.UUID]int{}
	for _, inv := range invs {
		if inv.BillingRunId != nil {
			made[*inv.BillingRunId]++
		}
	}
	// A run the daily job started may be finishing: give it a moment.
	var runs []oapi.BillingRun
	waitFor(3*time.Second, func() bool {
		runs = s.runs()
		return !slices.ContainsFunc(runs, func(r oapi.BillingRun) bool {
			return r.Status == oapi.BillingRunStatusQueued || r.Status == oapi.BillingRunStatusRunning
		})
	})
	for _, r := range runs {
		switch r.Status {
		case oapi.BillingRunStatusQueued, oapi.BillingRunStatusRunning:
			s.fail("runs_finish", "run/"+r.Id.String(), "billing run %s (%s, as of %s, by %s, started %v) still %s after the day with %d invoices",
				r.Id, r.Kind, r.AsOf, r.RequestedBy, r.StartedAt, r.Status, r.Invoices)
		case oapi.BillingRunStatusCompleted:
			if r.Invoices != made[r.Id] {
				s.fail("runs_finish", "count/"+r.Id.String(), "billing run %s (as of %s) reports %d invoices, %d carry its id", r.Id, r.AsOf, r.Invoices, made[r.Id])
			}
		default: // failed or interrupted: no worker dies here
			s.fail("runs_finish", "status/"+r.Id.String(), "billing run %s (%s, as of %s) ended %s", r.Id, r.Kind, r.AsOf, r.Status)
		}
		for _, f := range r.Failures {
			s.fail("runs_finish", "failure/"+r.Id.String()+"/"+f.What, "billing run %s (%s, as of %s) failed to bill %s: %s", r.Id, r.Kind, r.AsOf, f.What, f.Reason)
		}
	}
	rows, err := s.ro.Query(s.ctx, `SELECT id::text, status, day::text FROM usage_syncs WHERE status IN ('queued', 'running')`)
	if err != nil {
		s.fail("runs_finish", "sql", "reading usage syncs: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, status, day string
		if err := rows.Scan(&id, &status, &day); err == nil {
			s.fail("runs_finish", "sync/"+id, "usage sync %s of %s still %s after the day", id, day, status)
		}
	}
}

// orders_complete: none approved or provisioning for more than a day, none
// paid and still pending, none failed while the vendor was healthy. An
// order that failed during a spell of faults is retried (as an operator
// would) once the faults are gone, and must then complete.
func (s *sim) checkOrders() {
	dayAgo := s.now().Add(-24 * time.Hour)
	for _, st := range []oapi.OrderStatus{oapi.OrderStatusApproved, oapi.OrderStatusProvisioning} {
		for _, o := range s.orders(st) {
			if o.CreatedAt.Before(dayAgo) {
				s.fail("orders_complete", "stuck/"+o.Id.String(), "order %s %s since %s: %s", o.Id, o.Status, o.CreatedAt.Format(time.DateOnly), steps(o))
			}
		}
	}
	for _, o := range s.orders(oapi.OrderStatusPending) {
		if !o.CreatedAt.Before(dayAgo) || s.reported["orders_complete/pending/"+o.Id.String()] {
			continue
		}
		for _, inv := range s.invoices(oapi.ListInvoicesParams{ServiceId: &o.ServiceId}) {
			if inv.CustomerId != nil && inv.Status == oapi.InvoiceStatusPaid {
				s.fail("orders_complete", "pending/"+o.Id.String(), "order %s still pending since %s though its invoice %s is paid", o.Id, o.CreatedAt.Format(time.DateOnly), num(inv))
			}
		}
	}
	if s.spell != nil {
		return
	}
	for _, o := range s.orders(oapi.OrderStatusFailed) {
		reason := ""
		if o.FailureReason != nil {
			reason = *o.FailureReason
		}
		switch {
		case o.UpdatedAt.After(s.calmSince) || s.retried[o.Id]:
			s.fail("orders_complete", "failed/"+o.Id.String(), "order %s (plan %s) failed with the vendor healthy: %s", o.Id, s.planByID(o.PlanId).name, reason)
		default:
			s.retried[o.Id] = true
			r, err := s.admin.c.RetryOrderWithResponse(s.ctx, o.Id, nil)
			s.ok("retry_order", r, err)
		}
	}
}

func steps(o oapi.Order) string {
	var b []string
	for _, st := range o.Steps {
		b = append(b, fmt.Sprintf("%+v", st))
	}
	return strings.Join(b, "; ")
}

func num(inv oapi.Invoice) string {
	if inv.Number != nil {
		return *inv.Number
	}
	return inv.Id.String()
}

// invoice_arithmetic: lines, taxes, totals, payments, balance and status agree.
func (s *sim) checkArithmetic(inv oapi.Invoice) {
	bad := func(format string, args ...any) {
		s.fail("invoice_arithmetic", fmt.Sprintf("%s/%d", inv.Id, inv.Version), "invoice %s (%s): %s", num(inv), inv.Kind, fmt.Sprintf(format, args...))
	}
	var lines []oapi.InvoiceLine
	if inv.Lines != nil {
		lines = *inv.Lines
	}
	sum := decimal.Zero
	base := map[uuid.UUID]decimal.Decimal{}
	for _, l := range lines {
		a := dec(l.Amount)
		sum = sum.Add(a)
		for _, t := range l.TaxIds {
			base[t] = base[t].Add(a)
		}
		if l.Kind != oapi.InvoiceLineKindProration {
			q := decimal.RequireFromString(l.Quantity)
			if want := q.Mul(dec(l.UnitPrice)).Round(2); !want.Equal(a) {
				bad("%s line %q is %s, not %s x %s = %s", l.Kind, l.Description, a, q, l.UnitPrice.Amount, want)
			}
		}
	}
	if !sum.Equal(dec(inv.Subtotal)) {
		bad("lines sum to %s, subtotal %s", sum, inv.Subtotal.Amount)
	}
	taxSum := decimal.Zero
	seen := map[uuid.UUID]bool{}
	if inv.Taxes != nil {
		for _, t := range *inv.Taxes {
			seen[t.TaxId] = true
			rate := decimal.RequireFromString(t.Rate)
			want := base[t.TaxId].Mul(rate).Div(decimal.NewFromInt(100)).Round(2)
			if !dec(t.Base).Equal(base[t.TaxId]) || !dec(t.Amount).Equal(want) {
				bad("tax %s at %s%% on %s is %s; its lines sum to %s, so %s", t.Name, t.Rate, t.Base.Amount, t.Amount.Amount, base[t.TaxId], want)
			}
			taxSum = taxSum.Add(dec(t.Amount))
		}
	}
	for id, b := range base {
		if !seen[id] && !b.IsZero() {
			bad("lines carry tax %s on %s but the invoice has no such tax", id, b)
		}
	}
	paid := decimal.Zero
	if inv.Payments != nil {
		for _, p := range *inv.Payments {
			paid = paid.Add(dec(p.Amount))
		}
	}
	total, bal := dec(inv.Total), dec(inv.Balance)
	switch {
	case !taxSum.Equal(dec(inv.TaxTotal)):
		bad("taxes sum to %s, tax total %s", taxSum, inv.TaxTotal.Amount)
	case !total.Equal(dec(inv.Subtotal).Add(dec(inv.TaxTotal))):
		bad("total %s is not subtotal %s + tax %s", inv.Total.Amount, inv.Subtotal.Amount, inv.TaxTotal.Amount)
	case !paid.Equal(dec(inv.AmountPaid)):
		bad("payments sum to %s, amount paid %s", paid, inv.AmountPaid.Amount)
	case !bal.Equal(total.Sub(paid)):
		bad("balance %s is not total %s - paid %s", inv.Balance.Amount, inv.Total.Amount, paid)
	case inv.Status == oapi.InvoiceStatusPaid && !bal.IsZero(), inv.Status == oapi.InvoiceStatusUnpaid && !bal.IsPositive():
		bad("status %s with balance %s", inv.Status, inv.Balance.Amount)
	case total.IsNegative():
		bad("negative total %s", inv.Total.Amount)
	}
}

var numberRE = regexp.MustCompile(`^(.+)-(\d{4})-(\d+)$`)

// numbering: unique, gap-free from 1 per issuer and year, one prefix per issuer.
func (s *sim) checkNumbers(invs []oapi.Invoice) {
	type scope struct{ issuer, year string }
	seqs := map[scope][]int{}
	prefixes := map[string]map[string]bool{}
	byNumber := map[string]int{}
	for _, inv := range invs {
		if inv.Number == nil {
			continue
		}
		issuer := "venture " + inv.VentureId.String()
		if inv.IssuerPartnerId != nil {
			issuer = "partner " + inv.IssuerPartnerId.String()
		}
		byNumber[*inv.Number]++
		m := numberRE.FindStringSubmatch(*inv.Number)
		if m == nil {
			s.fail("numbering", *inv.Number, "invoice number %q is not <prefix>-<year>-<seq>", *inv.Number)
			continue
		}
		n, _ := strconv.Atoi(m[3])
		k := scope{issuer, m[2]}
		seqs[k] = append(seqs[k], n)
		if prefixes[issuer] == nil {
			prefixes[issuer] = map[string]bool{}
		}
		prefixes[issuer][m[1]] = true
	}
	for n, c := range byNumber {
		if c > 1 {
			s.fail("numbering", "dup/"+n, "invoice number %s used %d times", n, c)
		}
	}
	for issuer, ps := range prefixes {
		if len(ps) > 1 {
			s.fail("numbering", fmt.Sprintf("prefix/%s/%d", issuer, len(ps)), "%s numbers invoices under %d prefixes: %v", issuer, len(ps), keys(ps))
		}
	}
	for k, ns := range seqs {
		sort.Ints(ns)
		for i, n := range ns {
			if n != i+1 {
				s.fail("numbering", fmt.Sprintf("gap/%s/%s/%d", k.issuer, k.year, len(ns)), "%s %s: sequence %v is not 1..%d", k.issuer, k.year, ns, len(ns))
				break
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// billed is a line that bills a stretch of a service's days to a party.
type billed struct {
	inv  oapi.Invoice
	line oapi.InvoiceLine
	from time.Time
	to   time.Time
}

func (b billed) String() string {
	return fmt.Sprintf("%s %s line %s..%s on %s %s", b.inv.Kind, b.line.Kind, ds(b.from), ds(b.to), num(b.inv), b.inv.Status)
}

func party(inv oapi.Invoice) string {
	if inv.PartnerId != nil {
		return "partner"
	}
	return "customer"
}

// checkPeriods: billed_once and overage_once. A stretch of days billed
// twice to one party is allowed only where a credit line gives it back
// (a term change bills the new term from today less the unused days).
func (s *sim) checkPeriods(invs []oapi.Invoice) {
	type key struct {
		service uuid.UUID
		party   string
		what    string
	}
	groups := map[key][]billed{}
	credits := map[key][]billed{}
	setups := map[key][]billed{}
	for _, inv := range invs {
		if inv.Status == oapi.InvoiceStatusVoid || inv.Lines == nil {
			continue
		}
		for _, l := range *inv.Lines {
			if l.ServiceId == nil || l.PeriodStart == nil || l.PeriodEnd == nil {
				continue
			}
			b := billed{inv, l, l.PeriodStart.Time, l.PeriodEnd.Time}
			k := key{*l.ServiceId, party(inv), ""}
			switch {
			case l.Kind == oapi.InvoiceLineKindOverage:
				k.what = "overage"
			case l.Kind == oapi.InvoiceLineKindCredit:
				credits[k] = append(credits[k], b)
				continue
			case l.Kind == oapi.InvoiceLineKindSetup:
				setups[k] = append(setups[k], b)
				continue
			case l.Kind == oapi.InvoiceLineKindRecurring, inv.Kind != oapi.InvoiceKindAdjustment && l.Kind == oapi.InvoiceLineKindProration:
				k.what = "period"
			case l.Kind == oapi.InvoiceLineKindUsage:
				k.what = fmt.Sprint("usage ", l.Detail["offering_item"])
			default:
				continue
			}
			groups[k] = append(groups[k], b)
		}
	}
	for k, bs := range setups {
		if len(bs) > 1 {
			s.fail("billed_once", fmt.Sprintf("setup/%s/%s/%d", k.service, k.party, len(bs)), "service %s: setup fee billed %d times to the %s: %v", k.service, len(bs), k.party, bs)
		}
	}
	for k, bs := range groups {
		sort.Slice(bs, func(i, j int) bool { return bs[i].from.Before(bs[j].from) })
		for i := range bs {
			for j := i + 1; j < len(bs) && !bs[j].from.After(bs[i].to); j++ {
				from, to := bs[j].from, bs[i].to
				if bs[j].to.Before(to) {
					to = bs[j].to
				}
				if k.what != "overage" && creditedBack(credits[key{k.service, k.party, ""}], from, to) {
					continue
				}
				inv := "billed_once"
				if k.what == "overage" {
					inv = "overage_once"
				}
				s.fail(inv, fmt.Sprintf("%s/%s/%s", bs[i].line.Description, bs[j].inv.Id, k.party), "service %s, %s, %s: %s..%s billed twice: %v and %v",
					k.service, k.party, k.what, ds(from), ds(to), bs[i], bs[j])
			}
		}
	}
}

func creditedBack(credits []billed, from, to time.Time) bool {
	for _, c := range credits {
		if !c.from.After(from) && !c.to.Before(to) {
			return true
		}
	}
	return false
}

// checkPairs: partner_pairs and prices. Every line a partner bills its
// customer has a twin (same service, kinds, days and quantity) on the SP's
// bill to that partner, and back; recurring lines are at the plan's price
// for the SP's customers, at end price and at cost for a partner sale.
func (s *sim) checkPairs(invs []oapi.Invoice) {
	type twin struct {
		partner, service       uuid.UUID
		kind                   oapi.InvoiceKind
		line                   oapi.InvoiceLineKind
		from, to, quantity, of string
	}
	side := map[twin]int{}
	where := map[twin]string{}
	for _, inv := range invs {
		if inv.Status == oapi.InvoiceStatusVoid || inv.Lines == nil {
			continue
		}
		var sel *seller
		sign := 0
		switch {
		case inv.IssuerPartnerId != nil:
			sel, sign = s.partner(*inv.IssuerPartnerId), 1
		case inv.PartnerId != nil:
			sel, sign = s.partner(*inv.PartnerId), -1
		}
		for _, l := range *inv.Lines {
			s.checkPrice(inv, l, sel, sign < 0)
			if sign == 0 || l.ServiceId == nil || l.Kind == oapi.InvoiceLineKindCredit {
				continue
			}
			tw := twin{sel.id, *l.ServiceId, inv.Kind, l.Kind, ds(date(l.PeriodStart)), ds(date(l.PeriodEnd)), l.Quantity, fmt.Sprint(l.Detail["offering_item"])}
			side[tw] += sign
			where[tw] = fmt.Sprintf("%s line %q on %s", l.Kind, l.Description, num(inv))
		}
	}
	for tw, n := range side {
		switch {
		case n > 0:
			s.fail("partner_pairs", fmt.Sprintf("%v", tw), "partner %s billed its customer (%s) with no twin on the SP's bill to it at cost", tw.partner, where[tw])
		case n < 0:
			s.fail("partner_pairs", fmt.Sprintf("%v", tw), "the SP billed partner %s (%s) with no twin on the partner's bill to its customer", tw.partner, where[tw])
		}
	}
}

func (s *sim) checkPrice(inv oapi.Invoice, l oapi.InvoiceLine, sel *seller, cost bool) {
	name, _ := l.Detail["plan"].(string)
	freq, _ := l.Detail["frequency"].(string)
	p := s.planByName(name)
	if l.Kind != oapi.InvoiceLineKindRecurring || p == nil || inv.Kind == oapi.InvoiceKindAdjustment {
		return
	}
	want, ok := p.cycles[oapi.BillingFrequency(freq)]
	if !ok {
		return
	}
	if sel != nil {
		want = sel.price(want, cost)
	}
	if got := dec(l.UnitPrice); !got.Equal(want) {
		s.fail("partner_pairs", fmt.Sprintf("price/%s/%d", inv.Id, l.Position), "%s %s line %q on %s at %s, the price is %s", party(inv), l.Kind, l.Description, num(inv), got, want)
	}
}

// checkServices: trials_end and due_covered.
func (s *sim) checkServices(svcs []oapi.Service, invs []oapi.Invoice) {
	now, today := s.now(), s.date()
	for _, v := range svcs {
		p := s.planByID(v.PlanId)
		if v.Status != oapi.ServiceStatusActive {
			continue
		}
		if v.FreeTrial && v.TrialEndsAt != nil && now.After(v.TrialEndsAt.Add(24*time.Hour)) {
			s.fail("trials_end", v.Id.String(), "trial service %s (%s) still active, its trial ended %s", v.Id, v.Username, v.TrialEndsAt.Format(time.DateOnly))
		}
		if v.FreeTrial || p.model != oapi.BillingModelPrepaid || v.NextDueDate == nil || !v.NextDueDate.Time.Before(today) {
			continue
		}
		due := v.NextDueDate.Time
		if !slices.ContainsFunc(invs, func(inv oapi.Invoice) bool { return covers(inv, v.Id, due) }) {
			s.fail("due_covered", v.Id.String()+"/"+ds(due), "active service %s (%s) is past its due date %s with no unpaid invoice covering it", v.Id, p.name, ds(due))
		}
	}
}

// checkMetadata: a service keeps the metadata its order was placed with,
// and a list filtered by one of its keys finds it.
func (s *sim) checkMetadata(svcs []oapi.Service) {
	var with []oapi.Service
	for _, v := range svcs {
		want := s.metadata[v.Username]
		if len(want) == 0 {
			want = oapi.Metadata{}
		}
		if !maps.Equal(v.Metadata, want) {
			s.fail("metadata_kept", v.Id.String(), "service %s (%s) has metadata %v, its order was placed with %v", v.Id, v.Username, v.Metadata, want)
			continue
		}
		if len(want) > 0 {
			with = append(with, v)
		}
	}
	if len(with) == 0 {
		return
	}
	v := with[s.rng.IntN(len(with))]
	filter := oapi.Metadata{"shop_order": v.Metadata["shop_order"]}
	r, err := s.admin.c.ListServicesWithResponse(s.ctx, &oapi.ListServicesParams{Metadata: &filter})
	if !s.ok("list_services_by_metadata", r, err) {
		return
	}
	if len(r.JSON200.Data) != 1 || r.JSON200.Data[0].Id != v.Id {
		s.fail("metadata_filter", v.Id.String(), "services with shop_order=%s: %d found, want service %s alone", filter["shop_order"], len(r.JSON200.Data), v.Id)
	}
}

// covers: an unpaid bill to the customer with a line of the service over day.
func covers(inv oapi.Invoice, service uuid.UUID, day time.Time) bool {
	if inv.Status != oapi.InvoiceStatusUnpaid || inv.CustomerId == nil || inv.Lines == nil {
		return false
	}
	return slices.ContainsFunc(*inv.Lines, func(l oapi.InvoiceLine) bool {
		return l.ServiceId != nil && *l.ServiceId == service && !date(l.PeriodStart).After(day) && !date(l.PeriodEnd).Before(day)
	})
}

// checkVendor: vendor_agrees. A new disagreement gets a moment for jobs
// to converge before it counts; one already reported is not waited on.
func (s *sim) checkVendor(svcs []oapi.Service) {
	fresh := func() map[string]string {
		d := s.disagreements(svcs)
		for k := range d {
			if s.reported["vendor_agrees/"+k] {
				delete(d, k)
			}
		}
		return d
	}
	last := fresh()
	if len(last) > 0 {
		waitFor(3*time.Second, func() bool {
			svcs = s.services()
			last = fresh()
			return len(last) == 0
		})
	}
	for k, d := range last {
		s.fail("vendor_agrees", k, "%s", d)
	}
}

// disagreements lists where the platform and the vendor differ, by service
// and status.
func (s *sim) disagreements(svcs []oapi.Service) map[string]string {
	out := map[string]string{}
	tags := map[string]int{}
	for _, parent := range append([]string{s.vendor.SPTenantID()}, s.partnerTenants()...) {
		kids, err := s.vc.Children(s.ctx, parent)
		if err != nil {
			return map[string]string{"children/" + parent: "listing tenants under " + parent + ": " + err.Error()}
		}
		for _, k := range kids {
			if k.Kind == acronis.KindCustomer && k.InternalTag != nil {
				tags[*k.InternalTag]++
			}
		}
	}
	for _, v := range svcs {
		if n := tags[v.Id.String()]; n > 1 {
			out["tenants/"+v.Id.String()] = fmt.Sprintf("service %s has %d tenants at the vendor", v.Id, n)
		}
		if v.VendorTenantId == nil || v.Status == oapi.ServiceStatusPending {
			continue
		}
		if d := s.disagreement(v); d != "" {
			out[fmt.Sprintf("%s/%s", v.Id, v.Status)] = fmt.Sprintf("service %s (%s, %s): %s", v.Id, s.planByID(v.PlanId).name, v.Status, d)
		}
	}
	return out
}

func (s *sim) partnerTenants() []string {
	out := make([]string, len(s.partners))
	for i, p := range s.partners {
		out[i] = p.tenant
	}
	return out
}

func (s *sim) disagreement(v oapi.Service) string {
	t, err := s.vc.GetTenant(s.ctx, *v.VendorTenantId)
	gone := acronis.IsStatus(err, http.StatusNotFound)
	var ae *acronis.Error
	if err != nil && !gone && errors.As(err, &ae) {
		return "reading the tenant: " + err.Error()
	}
	switch v.Status {
	case oapi.ServiceStatusTerminated, oapi.ServiceStatusCancelled:
		if !gone {
			return fmt.Sprintf("tenant %s still there (enabled %v)", t.ID, t.Enabled)
		}
		return ""
	}
	if gone || err != nil {
		return "tenant " + *v.VendorTenantId + " gone at the vendor"
	}
	if want := v.Status == oapi.ServiceStatusActive; t.Enabled != want {
		return fmt.Sprintf("tenant enabled %v at the vendor", t.Enabled)
	}
	if want := map[bool]string{true: "trial", false: "production"}[v.FreeTrial]; t.PricingMode != want {
		return fmt.Sprintf("tenant in %s mode at the vendor, %s here", t.PricingMode, want)
	}
	items, err := s.vc.OfferingItems(s.ctx, t.ID)
	if err != nil {
		return "reading offering items: " + err.Error()
	}
	byName := map[string]acronis.OfferingItem{}
	for _, it := range items {
		if it.Enabled() {
			byName[it.Name] = it
		}
	}
	var diffs []string
	quota := func(name string, value, overage *int64) {
		it, ok := byName[name]
		switch {
		case !ok:
			diffs = append(diffs, name+" off at the vendor")
		case it.Quota == nil:
			diffs = append(diffs, name+" without a quota at the vendor")
		case !sameLimit(it.Quota.Value, value) || (overage != nil && !sameLimit(it.Quota.Overage, overage)):
			diffs = append(diffs, fmt.Sprintf("%s quota %s+%s at the vendor, %s+%s here", name, limit(it.Quota.Value), limit(it.Quota.Overage), limit(value), limit(overage)))
		}
	}
	if q := v.Quotas.StorageGb; q != nil {
		quota("pw_base_storage", bytesOf(q), bytesOf(v.Quotas.OverageGb))
	}
	for name, val := range v.Quotas.OfferingItems {
		n := val
		quota(name, &n, nil)
	}
	return strings.Join(diffs, "; ")
}

// bytesOf turns a GB quota into the vendor's bytes; -1 (unlimited) is nil.
func bytesOf(gb *int64) *int64 {
	if gb == nil {
		return nil
	}
	if *gb < 0 {
		return ptr(int64(-1))
	}
	return ptr(*gb << 30)
}

// sameLimit: nil and negative both mean unlimited.
func sameLimit(vendor, here *int64) bool {
	if here != nil && *here < 0 {
		here = nil
	}
	if vendor == nil || here == nil {
		return vendor == nil && here == nil
	}
	return *vendor == *here
}

func limit(v *int64) string {
	if v == nil || *v < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(*v, 10)
}
