package simulation

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/mail/mailtest"
)

// How the platform speaks outward, as the shop's storefront and inbox see
// it: every mail goes to a private Mailpit (mailtest), every event to a
// receiver on 127.0.0.1 with one endpoint per owner (the SP's, subscribed
// before anything happens, and each partner's, subscribed once it is
// active), which verifies each request with the Standard Webhooks library.

// mailFrom is the From address of the shop's mails.
const mailFrom = "billing@sim.example"

// hookFaultRate is the share of requests the receiver fails (HTTP 500)
// while its faults are on.
const hookFaultRate = 0.05

// receipt is what one endpoint got for one webhook-id.
type receipt struct {
	tries    int    // requests
	failed   int    // requests the receiver failed on purpose
	ok       int    // requests answered 2xx
	unsigned int    // requests whose signature did not verify
	body     []byte // the first body
	changed  bool   // a later try carried another body
}

// hookEndpoint is one subscribed endpoint as the receiver knows it.
type hookEndpoint struct {
	name    string // the receiver's path: /hooks/<name>
	id      uuid.UUID
	partner *seller // nil for the SP's
	since   int64   // the events after this seq are the endpoint's
	wh      *standardwebhooks.Webhook
	got     map[string]*receipt // by webhook-id
	fresh   []string            // webhook-ids first seen since the last check
	ok      int                 // 2xx answers in all
	want    int                 // events of the log it should have had
}

// receiver is the storefront's side of the webhooks.
type receiver struct {
	url  string
	seed int64
	mu   sync.Mutex
	eps  map[string]*hookEndpoint
	rate float64 // of requests failed on purpose; 0 when faults are off
}

func newReceiver(s *sim) *receiver {
	r := &receiver{seed: s.seed, eps: map[string]*hookEndpoint{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	s.t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	name := strings.TrimPrefix(req.URL.Path, "/hooks/")
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	ep := r.eps[name]
	if ep == nil {
		r.mu.Unlock()
		http.NotFound(w, req)
		return
	}
	rc := ep.got[id]
	if rc == nil {
		rc = &receipt{body: body}
		ep.got[id] = rc
		ep.fresh = append(ep.fresh, id)
	}
	rc.tries++
	if string(body) != string(rc.body) {
		rc.changed = true
	}
	code := http.StatusNoContent
	switch {
	case ep.wh.Verify(body, req.Header) != nil:
		rc.unsigned++
		code = http.StatusBadRequest
	case r.faulty(name, id, rc.tries):
		rc.failed++
		code = http.StatusInternalServerError
	default:
		rc.ok++
		ep.ok++
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

// faulty decides a request by the seed, the endpoint, the webhook-id and
// the try, so a replay fails the same requests.
func (r *receiver) faulty(name, id string, try int) bool {
	if r.rate == 0 {
		return false
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%s/%d", r.seed, name, id, try)
	return float64(h.Sum64()%10000) < r.rate*10000
}

func (r *receiver) setRate(rate float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rate = rate
}

// subscribe makes an endpoint for every event type, as the SP (partner
// nil) or as the partner's admin, and remembers its secret.
func (s *sim) subscribe(partner *seller) {
	name, who := "sp", s.admin
	if partner != nil {
		name, who = fmt.Sprintf("p%d", len(s.receiver.eps)), partner.user
	}
	r, err := who.c.CreateWebhookEndpointWithResponse(s.ctx, nil, oapi.WebhookEndpointCreate{Url: s.receiver.url + "/hooks/" + name,
		Description: ptr("simulation storefront")})
	s.must("create webhook endpoint", r, err)
	wh, err := standardwebhooks.NewWebhook(r.JSON201.Secret)
	require.NoError(s.t, err)
	var since int64
	require.NoError(s.t, s.ro.QueryRow(s.ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&since))
	s.receiver.mu.Lock()
	defer s.receiver.mu.Unlock()
	s.receiver.eps[name] = &hookEndpoint{name: name, id: r.JSON201.Id, partner: partner, since: since, wh: wh, got: map[string]*receipt{}}
}

// actOutbound ends the day's actions with those only mail and webhooks
// are about: now and then a credentials reset, and a spell of receiver
// faults. They draw from a generator of their own, so the day's other
// actions are those a run without them makes.
func (s *sim) actOutbound() {
	main := s.rng
	s.rng = s.orng
	defer func() { s.rng = main }()
	if s.rng.IntN(6) == 0 {
		s.resetCredentials()
	}
	if s.rng.IntN(10) == 0 {
		s.startHookFaults()
	}
}

// startHookFaults makes the receiver fail some requests for a day or two.
func (s *sim) startHookFaults() {
	if s.hookFaultsUntil > s.day {
		return
	}
	s.hookFaultsUntil = s.day + 1 + s.rng.IntN(2)
	s.receiver.setRate(hookFaultRate)
	s.note("receiver faults until day %d", s.hookFaultsUntil)
}

func (s *sim) endHookFaults() {
	if s.hookFaultsUntil != 0 && s.day >= s.hookFaultsUntil {
		s.hookFaultsUntil = 0
		s.receiver.setRate(0)
	}
}

// resetCredentials has the seller reset a service's password; the new
// one is mailed to the customer.
func (s *sim) resetCredentials() {
	v, _, ok := s.service(func(v oapi.Service, _ *plan) bool { return v.VendorTenantId != nil }, oapi.ServiceStatusActive)
	if !ok {
		return
	}
	r, err := s.sellerOf(v.PartnerId).c.ResetServiceCredentialsWithResponse(s.ctx, v.Id)
	if !s.ok("credentials_reset", r, err) {
		return
	}
	s.resets[v.Id]++
	if r.JSON200 != nil && r.JSON200.Password == "" {
		s.fail("mail_kept", "reset/"+v.Id.String(), "credentials reset of %s answered 200 without a password", v.Id)
	}
}

// logged is an event of the log as the webhook check needs it.
type logged struct {
	seq     int64
	partner string
}

// checkWebhooks: webhooks_delivered, webhooks_scoped and webhooks_payload.
//   - every event of the log (after an endpoint subscribed) reached each
//     endpoint that should have it, the SP's all of them and a partner's
//     that partner's: signed (verified by the Standard Webhooks library),
//     answered 2xx once, tried again with the same webhook-id only after
//     the receiver failed it on purpose, with the body the same on every
//     try; its delivery succeeded after as many tries as the receiver saw;
//   - no endpoint got more successful deliveries than the log has events
//     for it, nor an event the log does not have; a partner's endpoint
//     never got another partner's (or the SP's own) event;
//   - the body is {type, timestamp, data}: the event's type and payload;
//   - no delivery is left pending or failed (the deliveries API, per
//     endpoint, as its owner sees it), and every endpoint stays enabled with
//     no failure on record.
func (s *sim) checkWebhooks() {
	type fresh struct {
		id, typ string
		logged
		payload []byte
	}
	var evs []fresh
	s.rows("webhooks_delivered", `SELECT seq::text, id::text, type, coalesce(partner_id::text, ''), payload::text FROM events WHERE seq > $1 ORDER BY seq`,
		func(c []string) {
			seq, _ := strconv.ParseInt(c[0], 10, 64)
			evs = append(evs, fresh{id: c[1], typ: c[2], logged: logged{seq: seq, partner: c[3]}, payload: []byte(c[4])})
		}, s.eventSeq)
	for _, e := range evs {
		s.events[e.id] = e.logged
		s.eventSeq = max(s.eventSeq, e.seq)
	}
	attempts := map[string]string{} // endpoint/event -> attempts, of deliveries tried more than once
	s.rows("webhooks_delivered", `SELECT endpoint_id::text || '/' || event_id::text, attempts::text FROM webhook_deliveries WHERE attempts > 1`, func(c []string) {
		attempts[c[0]] = c[1]
	})
	s.receiver.mu.Lock()
	defer s.receiver.mu.Unlock()
	names := keys(s.receiver.eps)
	for _, name := range names {
		ep := s.receiver.eps[name]
		for _, e := range evs {
			if e.seq <= ep.since || (ep.partner != nil && e.partner != ep.partner.id.String()) {
				continue
			}
			ep.want++
			key := name + "/" + e.id
			rc := ep.got[e.id]
			switch {
			case rc == nil:
				s.fail("webhooks_delivered", key, "endpoint %s never got event %s (%s, seq %d)", name, e.id, e.typ, e.seq)
				continue
			case rc.unsigned > 0:
				s.fail("webhooks_delivered", key, "endpoint %s: %d of %d requests of event %s (%s) failed the signature check", name, rc.unsigned, rc.tries, e.id, e.typ)
			case rc.ok != 1:
				s.fail("webhooks_delivered", key, "endpoint %s got event %s (%s) %d times (%d failed on purpose, %d answered 2xx)", name, e.id, e.typ, rc.tries, rc.failed, rc.ok)
			case rc.changed:
				s.fail("webhooks_delivered", key, "endpoint %s got event %s (%s) with another body on a retry", name, e.id, e.typ)
			case tried(attempts, ep.id.String()+"/"+e.id) != strconv.Itoa(rc.tries):
				s.fail("webhooks_delivered", key, "endpoint %s got event %s (%s) %d times, its delivery counts %s tries", name, e.id, e.typ, rc.tries, tried(attempts, ep.id.String()+"/"+e.id))
			}
			s.checkBody(name, e.id, e.typ, rc.body, e.payload)
		}
		for _, id := range ep.fresh {
			ev, ok := s.events[id]
			switch {
			case !ok:
				s.fail("webhooks_delivered", name+"/unknown/"+id, "endpoint %s got webhook-id %s, which is no event of the log", name, id)
			case ep.partner != nil && ev.partner != ep.partner.id.String():
				s.fail("webhooks_scoped", name+"/"+id, "partner endpoint %s got event %s (seq %d) of partner %q", name, id, ev.seq, ev.partner)
			}
		}
		if ep.ok != ep.want {
			s.fail("webhooks_delivered", fmt.Sprintf("%s/total/%d/%d", name, ep.ok, ep.want), "endpoint %s: %d successful deliveries, the log has %d events for it", name, ep.ok, ep.want)
		}
		// The owner's view of the deliveries, on days the receiver failed
		// some (the table is read for every delivery below).
		if slices.ContainsFunc(ep.fresh, func(id string) bool { return ep.got[id].failed > 0 }) {
			s.checkDeliveries(ep)
		}
		ep.fresh = nil
	}
	s.rows("webhooks_delivered", `SELECT d.id::text, d.endpoint_id::text, d.event_type, d.status, d.attempts::text, coalesce(d.last_error, '')
		FROM webhook_deliveries d WHERE d.status <> 'succeeded'`, func(c []string) {
		s.fail("webhooks_delivered", "status/"+c[0], "delivery %s of %s to endpoint %s is %s after %s tries: %s", c[0], c[2], c[1], c[3], c[4], c[5])
	})
	s.rows("webhooks_delivered", `SELECT id::text, enabled::text, coalesce(disabled_reason, ''), coalesce(failing_since::text, '') FROM webhook_endpoints
		WHERE NOT enabled OR failing_since IS NOT NULL`, func(c []string) {
		s.fail("webhooks_delivered", "endpoint/"+c[0], "endpoint %s: enabled %s (%s), failing since %q after the day", c[0], c[1], c[2], c[3])
	})
}

// tried is how often a delivery was tried: once unless listed.
func tried(attempts map[string]string, key string) string {
	if n, ok := attempts[key]; ok {
		return n
	}
	return "1"
}

// checkBody: webhooks_payload.
func (s *sim) checkBody(name, id, typ string, body, payload []byte) {
	var got struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}
	var want any
	if err := json.Unmarshal(body, &got); err != nil {
		s.fail("webhooks_payload", name+"/"+id, "endpoint %s: event %s body is not JSON: %v", name, id, err)
		return
	}
	if err := json.Unmarshal(payload, &want); err != nil {
		s.fail("webhooks_payload", name+"/"+id, "event %s payload: %v", id, err)
		return
	}
	if got.Type != typ || got.Timestamp == "" || !reflect.DeepEqual(got.Data, want) {
		s.fail("webhooks_payload", name+"/"+id, "endpoint %s: event %s (%s) arrived as type %q at %q with data %.300s, the log has %.300s", name, id, typ, got.Type, got.Timestamp, body, payload)
	}
}

// checkDeliveries: no delivery of the endpoint pending or failed, as its
// owner reads them.
func (s *sim) checkDeliveries(ep *hookEndpoint) {
	who := s.admin
	if ep.partner != nil {
		who = ep.partner.user
	}
	for _, st := range []oapi.WebhookDeliveryStatus{oapi.WebhookDeliveryStatusPending, oapi.WebhookDeliveryStatusFailed} {
		r, err := who.c.ListWebhookDeliveriesWithResponse(s.ctx, ep.id, &oapi.ListWebhookDeliveriesParams{Status: &st, Limit: ptr(10)})
		if !s.ok("list_webhook_deliveries", r, err) {
			continue
		}
		for _, d := range r.JSON200.Data {
			s.fail("webhooks_delivered", "api/"+d.Id.String(), "endpoint %s: delivery %s of %s (%s) is %s after %d tries: %v",
				ep.name, d.Id, d.EventId, d.EventType, d.Status, d.Attempts, d.LastError)
		}
	}
}

// mailKind is the mail an invoice of a kind is announced with.
func mailKind(invoiceKind string) string {
	switch invoiceKind {
	case "overage":
		return "overage_invoice"
	case "postpaid":
		return "postpaid_invoice"
	}
	return "invoice_issued"
}

// checkMail: mail_kept, mail_sent and mail_delivered.
//   - every invoice issued with a total above zero has its mail of its kind
//     (invoice_issued, overage_invoice, postpaid_invoice) with its PDF,
//     addressed to its recipient (the customer, or the partner billed at
//     cost) in its issuer's name (the partner for its customers, else the
//     venture); every payment its payment_received, likewise; every
//     completed order its service_ready to the customer, from the service's
//     partner or the venture of the plan ordered; every service.suspended
//     and service.terminated event its notice, every reset_password
//     operation its credentials_reset (at least as many as the resets the
//     harness was answered 2xx for); and no more mails of any kind than
//     that (so each cause has exactly one);
//   - every mail about a customer is addressed to it, from its partner (a
//     partner's customer) or a venture;
//   - after the day's jobs no mail is queued, failed or held;
//   - Mailpit holds every sent mail exactly once by Message-ID: its count
//     is the outbox's, and its newest messages are the mails sent since
//     the last check; a credentials reset caught there has a non-empty
//     text.
func (s *sim) checkMail() {
	want := map[string]int{}
	check := func(invariant, what, id, kind, wantKind, to, wantTo, issuer, wantIssuer string) {
		switch {
		case kind == "":
			s.fail(invariant, what+"/"+id, "%s %s has no %s mail", what, id, wantKind)
		case kind != wantKind || to != wantTo || issuer != wantIssuer:
			s.fail(invariant, what+"/"+id, "%s %s: mail %s to %s from %q, want %s to %s from %q", what, id, kind, to, issuer, wantKind, wantTo, wantIssuer)
		}
	}
	s.rows("mail_kept", `SELECT coalesce(i.number, i.id::text), i.kind, coalesce(n.template_kind, ''), coalesce(n.recipient, ''), coalesce(n.issuer_name, ''),
		coalesce(c.email, p.email), coalesce(ip.name, v.name),
		coalesce(n.attachments @> jsonb_build_array(jsonb_build_object('kind', 'invoice_pdf', 'id', i.id::text)), true)::text
		FROM invoices i JOIN ventures v ON v.id = i.venture_id
		LEFT JOIN customers c ON c.id = i.customer_id LEFT JOIN partners p ON p.id = i.partner_id LEFT JOIN partners ip ON ip.id = i.issuer_partner_id
		LEFT JOIN notifications n ON n.dedupe_key = 'invoice_issued:' || i.id
		WHERE i.status <> 'draft' AND i.total > 0`, func(c []string) {
		want[mailKind(c[1])]++
		check("mail_kept", "invoice", c[0], c[2], mailKind(c[1]), c[3], c[5], c[4], c[6])
		if c[7] != "true" {
			s.fail("mail_kept", "pdf/"+c[0], "invoice %s: its mail does not attach its PDF", c[0])
		}
	})
	s.rows("mail_kept", `SELECT p.id::text, coalesce(n.template_kind, ''), coalesce(n.recipient, ''), coalesce(n.issuer_name, ''),
		coalesce(c.email, pp.email), coalesce(ip.name, v.name)
		FROM payments p JOIN invoices i ON i.id = p.invoice_id JOIN ventures v ON v.id = i.venture_id
		LEFT JOIN customers c ON c.id = i.customer_id LEFT JOIN partners pp ON pp.id = i.partner_id LEFT JOIN partners ip ON ip.id = i.issuer_partner_id
		LEFT JOIN notifications n ON n.dedupe_key = 'payment_received:' || p.id`, func(c []string) {
		want["payment_received"]++
		check("mail_kept", "payment", c[0], c[1], "payment_received", c[2], c[4], c[3], c[5])
	})
	s.rows("mail_kept", `SELECT o.service_id::text, coalesce(n.template_kind, ''), coalesce(n.recipient, ''), coalesce(n.issuer_name, ''),
		c.email, coalesce(pp.name, v.name)
		FROM orders o JOIN services sv ON sv.id = o.service_id JOIN customers c ON c.id = o.customer_id
		JOIN plans pl ON pl.id = o.plan_id JOIN ventures v ON v.id = pl.venture_id LEFT JOIN partners pp ON pp.id = sv.partner_id
		LEFT JOIN notifications n ON n.dedupe_key = 'service_ready:' || o.service_id
		WHERE o.status = 'completed'`, func(c []string) {
		want["service_ready"]++
		check("mail_kept", "service", c[0], c[1], "service_ready", c[2], c[4], c[3], c[5])
	})
	// Notices and resets per service: as many mails as causes.
	causes := map[string]int{}
	s.rows("mail_kept", `SELECT x.service, x.kind, x.causes::text, coalesce(m.mails, 0)::text FROM (
			SELECT resource_id::text AS service, CASE type WHEN 'service.suspended' THEN 'suspension_notice' ELSE 'termination_notice' END AS kind, count(*) AS causes
			FROM events WHERE type IN ('service.suspended', 'service.terminated') GROUP BY 1, 2
			UNION ALL
			SELECT service_id::text, 'credentials_reset', count(*) FROM service_operations WHERE kind = 'reset_password' GROUP BY 1
		) x FULL JOIN (
			SELECT split_part(dedupe_key, ':', 2) AS service, template_kind AS kind, count(*) AS mails FROM notifications
			WHERE template_kind IN ('suspension_notice', 'termination_notice', 'credentials_reset') GROUP BY 1, 2
		) m USING (service, kind)`, func(c []string) {
		n, _ := strconv.Atoi(c[2])
		want[c[1]] += n
		causes[c[0]+"/"+c[1]] = n
		if c[2] != c[3] {
			s.fail("mail_kept", c[1]+"/"+c[0]+"/"+c[2]+"/"+c[3], "service %s: %s causes of %s, %s mails", c[0], c[2], c[1], c[3])
		}
	})
	for id, n := range s.resets {
		if got := causes[id.String()+"/credentials_reset"]; got < n {
			s.fail("mail_kept", fmt.Sprintf("reset/%s/%d", id, n), "service %s: %d resets answered 2xx, %d reset operations mailed", id, n, got)
		}
	}
	s.dunningMails(want)
	s.rows("mail_kept", `SELECT coalesce(template_kind, '-'), count(*)::text FROM notifications GROUP BY 1`, func(c []string) {
		if n, _ := strconv.Atoi(c[1]); n != want[c[0]] {
			s.fail("mail_kept", "count/"+c[0]+"/"+c[1], "%s mails of kind %s, %d causes", c[1], c[0], want[c[0]])
		}
	})
	s.rows("mail_kept", `SELECT n.id::text, coalesce(n.template_kind, ''), n.recipient, n.issuer_name, c.email, coalesce(p.name, '') FROM notifications n
		JOIN customers c ON c.id = n.customer_id LEFT JOIN partners p ON p.id = c.partner_id
		WHERE n.recipient <> c.email OR (p.id IS NOT NULL AND n.issuer_name <> p.name)
		   OR (p.id IS NULL AND n.issuer_name NOT IN (SELECT name FROM ventures))`, func(c []string) {
		s.fail("mail_kept", "party/"+c[0], "mail %s (%s) to %s from %q; its customer is %s, of partner %q", c[0], c[1], c[2], c[3], c[4], c[5])
	})
	s.rows("mail_sent", `SELECT id::text, coalesce(template_kind, ''), recipient, status, attempts::text, coalesce(last_error, '') FROM notifications
		WHERE status <> 'sent'`, func(c []string) {
		s.fail("mail_sent", c[0]+"/"+c[3], "mail %s (%s) to %s is %s after %s tries: %s", c[0], c[1], c[2], c[3], c[4], c[5])
	})
	s.checkMailpit()
}

// checkMailpit: mail_delivered. Mailpit's messages since the last check
// (its newest) are the mails sent since then, one each: more than one
// only for a mail tried more than once (a resend after an ambiguous SMTP
// failure carries the same Message-ID).
func (s *sim) checkMailpit() {
	type sent struct {
		kind     string
		attempts int
	}
	news := map[string]sent{}
	s.rows("mail_delivered", `SELECT message_id, coalesce(template_kind, ''), attempts::text FROM notifications WHERE status = 'sent'`, func(c []string) {
		if !s.mailSeen[c[0]] {
			n, _ := strconv.Atoi(c[2])
			news[c[0]] = sent{c[1], n}
		}
	})
	_, total := s.mailpitPage(0, 1)
	got := map[string]int{}
	var resets []mailtest.Summary
	for start := 0; start < total-s.mailpitTotal; {
		msgs, _ := s.mailpitPage(start, min(500, total-s.mailpitTotal-start))
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			got[m.MessageID]++
			if news[m.MessageID].kind == "credentials_reset" && got[m.MessageID] == 1 {
				resets = append(resets, m)
			}
		}
		start += len(msgs)
	}
	s.mailpitTotal = total
	for id, m := range news {
		s.mailSeen[id] = true
		if n := got[id]; n == 0 || (n > 1 && m.attempts < 2) {
			s.fail("mail_delivered", "mail/"+id, "sent mail %s (%s, %d tries) reached Mailpit %d times since the last check", id, m.kind, m.attempts, n)
		}
	}
	for id, n := range got {
		if _, ok := news[id]; !ok {
			s.fail("mail_delivered", "extra/"+id, "Mailpit got %s %d times since the last check, which is no mail sent since then", id, n)
		}
	}
	for _, m := range resets {
		s.checkResetMail(m)
	}
}

// checkResetMail: the reset mail caught has a subject and a text.
func (s *sim) checkResetMail(m mailtest.Summary) {
	full := s.mailpit.Message(s.t, m.ID)
	if strings.TrimSpace(full.Text) == "" || strings.TrimSpace(full.Subject) == "" {
		s.fail("mail_delivered", "reset/"+m.MessageID, "credentials reset mail %s to %v has subject %q and an empty text", m.MessageID, full.To, full.Subject)
	}
}

// mailpitPage lists Mailpit's messages from start, newest first, and its
// count.
func (s *sim) mailpitPage(start, limit int) ([]mailtest.Summary, int) {
	res, err := http.Get(s.mailpit.HTTPURL + "/api/v1/messages?" + url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}}.Encode())
	require.NoError(s.t, err, "reading Mailpit")
	defer res.Body.Close()
	require.Equal(s.t, http.StatusOK, res.StatusCode, "reading Mailpit")
	var l struct {
		Total    int `json:"total"`
		Messages []mailtest.Summary
	}
	require.NoError(s.t, json.NewDecoder(res.Body).Decode(&l), "reading Mailpit")
	return l.Messages, l.Total
}

// logOutbound says how much the run mailed and posted.
func (s *sim) logOutbound() {
	var b strings.Builder
	s.rows("summary", `SELECT k || '=' || n FROM (SELECT coalesce(template_kind, '-') AS k, count(*) AS n FROM notifications GROUP BY 1) x ORDER BY 1`, func(c []string) {
		b.WriteString(" " + c[0])
	})
	s.rows("summary", `SELECT count(*)::text || ' webhook deliveries, ' || count(*) FILTER (WHERE attempts > 1)::text || ' tried again' FROM webhook_deliveries`, func(c []string) {
		b.WriteString("; " + c[0])
	})
	s.t.Logf("seed %d mails:%s", s.seed, b.String())
}
