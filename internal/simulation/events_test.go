package simulation

import "fmt"

// checkEvents: events_kept and events_ordered. Every change the day made
// has its event, once, and the events of one resource are in order:
//   - each invoice has one invoice.issued; a paid one one invoice.paid, a
//     void one one invoice.voided (and the others none); each payment one
//     payment.created;
//   - each order one order.created and as many order.completed and
//     order.failed as its history has transitions to those states;
//   - each service with a vendor account as many service.terminated,
//     service.quantity_changed and service.plan_changed as it has
//     operations of those kinds (every such change records one); a
//     suspended service's last suspension event is service.suspended, an
//     active one's (if any) service.unsuspended;
//   - an active partner has one partner.active;
//   - each payload's status is the one its type says;
//   - per resource, in written order, versions and times never go back.
func (s *sim) checkEvents() {
	counts := `(SELECT count(*) FROM events e WHERE e.resource_id = %s AND e.type = '%s')`
	count := func(col, typ string) string { return fmt.Sprintf(counts, col, typ) }
	s.rows("events_kept", `SELECT i.id::text, coalesce(i.number, ''), i.status, `+count("i.id", "invoice.issued")+`::text, `+
		count("i.id", "invoice.paid")+`::text, `+count("i.id", "invoice.voided")+`::text FROM invoices i`, func(c []string) {
		want := map[string]string{"issued": "1", "paid": "0", "voided": "0"}
		switch c[2] {
		case "paid":
			want["paid"] = "1"
		case "void":
			want["voided"] = "1"
		}
		got := map[string]string{"issued": c[3], "paid": c[4], "voided": c[5]}
		for k, v := range want {
			if got[k] != v {
				s.fail("events_kept", "invoice/"+k+"/"+c[0], "invoice %s (%s) has %s invoice.%s events, want %s", c[1], c[2], got[k], k, v)
			}
		}
	})
	s.rows("events_kept", `SELECT p.id::text, p.invoice_id::text, `+count("p.id", "payment.created")+`::text FROM payments p`, func(c []string) {
		if c[2] != "1" {
			s.fail("events_kept", "payment/"+c[0], "payment %s of invoice %s has %s payment.created events", c[0], c[1], c[2])
		}
	})
	s.rows("events_kept", `SELECT o.id::text, o.status, `+count("o.id", "order.created")+`::text,
		(SELECT count(*) FROM order_events h WHERE h.order_id = o.id AND h.to_status = 'completed')::text, `+count("o.id", "order.completed")+`::text,
		(SELECT count(*) FROM order_events h WHERE h.order_id = o.id AND h.to_status = 'failed')::text, `+count("o.id", "order.failed")+`::text
		FROM orders o`, func(c []string) {
		if c[2] != "1" || c[3] != c[4] || c[5] != c[6] {
			s.fail("events_kept", "order/"+c[0], "order %s (%s): %s order.created; completed %s times, %s events; failed %s times, %s events",
				c[0], c[1], c[2], c[3], c[4], c[5], c[6])
		}
	})
	ops := `(SELECT count(*) FROM service_operations o WHERE o.service_id = s.id AND o.kind = '%s')`
	s.rows("events_kept", `SELECT s.id::text, s.status, `+fmt.Sprintf(ops, "terminate")+`::text, `+count("s.id", "service.terminated")+`::text, `+
		fmt.Sprintf(ops, "quantity")+`::text, `+count("s.id", "service.quantity_changed")+`::text, `+
		fmt.Sprintf(ops, "plan_change")+`::text, `+count("s.id", "service.plan_changed")+`::text,
		coalesce((SELECT e.type FROM events e WHERE e.resource_id = s.id AND e.type IN ('service.suspended', 'service.unsuspended')
			ORDER BY e.seq DESC LIMIT 1), '')
		FROM services s WHERE s.vendor_tenant_id IS NOT NULL`, func(c []string) {
		for i, kind := range []string{"terminated", "quantity_changed", "plan_changed"} {
			if c[2+2*i] != c[3+2*i] {
				s.fail("events_kept", "service/"+kind+"/"+c[0], "service %s (%s): %s operations, %s service.%s events", c[0], c[1], c[2+2*i], c[3+2*i], kind)
			}
		}
		switch {
		case c[1] == "suspended" && c[8] != "service.suspended":
			s.fail("events_kept", "service/suspended/"+c[0], "suspended service %s: last suspension event %q", c[0], c[8])
		case c[1] == "active" && c[8] == "service.suspended":
			s.fail("events_kept", "service/unsuspended/"+c[0], "active service %s: last suspension event is service.suspended", c[0])
		}
	})
	s.rows("events_kept", `SELECT p.id::text, `+count("p.id", "partner.active")+`::text FROM partners p WHERE p.status = 'active'`, func(c []string) {
		if c[1] != "1" {
			s.fail("events_kept", "partner/"+c[0], "active partner %s has %s partner.active events", c[0], c[1])
		}
	})
	s.rows("events_kept", `SELECT e.id::text, e.type, coalesce(e.payload->>'status', '') FROM events e
		WHERE (e.type, coalesce(e.payload->>'status', '')) NOT IN (('order.completed', 'completed'), ('order.failed', 'failed'),
			('service.suspended', 'suspended'), ('service.unsuspended', 'active'), ('service.terminated', 'terminated'),
			('invoice.paid', 'paid'), ('invoice.voided', 'void'), ('partner.active', 'active'), ('partner.failed', 'failed'))
		  AND e.type IN ('order.completed', 'order.failed', 'service.suspended', 'service.unsuspended', 'service.terminated',
			'invoice.paid', 'invoice.voided', 'partner.active', 'partner.failed')`, func(c []string) {
		s.fail("events_kept", "status/"+c[0], "event %s (%s) shows status %q", c[0], c[1], c[2])
	})
	s.rows("events_ordered", `SELECT resource_id::text, type, seq::text, version::text, prev::text FROM (
		SELECT resource_id, type, seq, (payload->>'version')::bigint AS version, created_at,
		       lag((payload->>'version')::bigint) OVER w AS prev, lag(created_at) OVER w AS prev_at
		FROM events WINDOW w AS (PARTITION BY resource_id ORDER BY seq)) x
		WHERE version < prev OR created_at < prev_at`, func(c []string) {
		s.fail("events_ordered", c[0]+"/"+c[2], "%s of %s (seq %s) has version %s after version %s, or an earlier time", c[1], c[0], c[2], c[3], c[4])
	})
}
