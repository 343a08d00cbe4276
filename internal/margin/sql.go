package margin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/acronis-platform/platform/internal/ratecard"
)

// sizeFactor is the SQL for a card unit's size in GB (NULL: a counted unit).
func sizeFactor(col string) string {
	units := make([]string, 0, len(ratecard.SizeUnits))
	for u := range ratecard.SizeUnits {
		units = append(units, u)
	}
	sort.Strings(units)
	var b strings.Builder
	b.WriteString("CASE " + col)
	for _, u := range units {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", u, ratecard.SizeUnits[u])
	}
	b.WriteString(" END")
	return b.String()
}

// reportSQL is the whole report in one statement, aggregated per row key
// ($KEY: the grouping's expression over services s and plans p). Its
// answer is a few figures per key, whatever the number of services:
//
//	revenue  (key, amount)
//	cost     (key, a: item, b: unit, c: unlimited|none when a quota billed
//	          item took the usage peak, amount: full precision, services)
//	unpriced (key, a: item, b: unit, c: reason, amount: quantity, services)
//	card     (key, a: product group, b: card, c: currency, amount: exchange rate, version)
//	nocard   (key, services)
//	services (key, services: with revenue or cost)
//
// Usage is read once for the month (a hash aggregate per tenant and item)
// and hash joined to the services, not looked up per service; the costs
// are projected to narrow rows before they are grouped.
//
// Named parameters: from, to (the month's first and last day), year,
// month, zone (the SP's). No question marks: GORM would take them for
// positional parameters.
var reportSQL = strings.ReplaceAll(`
WITH
lines AS (
    SELECT l.id AS line_id, l.service_id, l.amount, l.detail,
           CASE WHEN l.period_start IS NULL THEN 1
                ELSE least(coalesce(l.period_end, l.period_start), CAST(@to AS date)) - greatest(l.period_start, CAST(@from AS date)) + 1 END AS overlap,
           CASE WHEN l.period_start IS NULL THEN 1
                ELSE greatest(coalesce(l.period_end, l.period_start) - l.period_start + 1, 1) END AS total
    FROM invoice_lines l
    JOIN invoices i ON i.id = l.invoice_id
    WHERE i.issuer_partner_id IS NULL AND i.status IN ('unpaid', 'paid')
      AND CASE WHEN l.period_start IS NULL THEN i.period_start BETWEEN CAST(@from AS date) AND CAST(@to AS date)
               ELSE l.period_start <= CAST(@to AS date) AND coalesce(l.period_end, l.period_start) >= CAST(@from AS date) END
),
taken AS (
    -- a service-less line's credits taken, each from the service it came from
    SELECT l.line_id, l.overlap, l.total,
           CASE WHEN c->>'service_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN (c->>'service_id')::uuid END AS service_id,
           CASE WHEN c->>'amount' ~ '^[0-9]{1,14}([.][0-9]{1,6}){0,1}$' THEN (c->>'amount')::numeric END AS part
    FROM lines l
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(l.detail->'credits') = 'array' THEN l.detail->'credits' ELSE '[]'::jsonb END) c
    WHERE l.service_id IS NULL
),
parts AS (
    SELECT service_id, amount, overlap, total FROM lines WHERE service_id IS NOT NULL
    UNION ALL
    SELECT service_id, -part, overlap, total FROM taken WHERE part IS NOT NULL
    UNION ALL
    -- what the credits taken do not explain stays unattributed
    SELECT NULL::uuid, l.amount + coalesce((SELECT sum(t.part) FROM taken t WHERE t.line_id = l.line_id), 0), l.overlap, l.total
    FROM lines l WHERE l.service_id IS NULL
),
rev AS (
    -- each line's share of the month, rounded per line, on its service's key
    SELECT s.id AS service_id, CASE WHEN s.id IS NULL THEN 'unattributed' ELSE $KEY END AS key,
           round(x.amount * x.overlap / x.total, 2) AS amount
    FROM parts x
    LEFT JOIN services s ON s.id = x.service_id
    LEFT JOIN plans p ON p.id = s.plan_id
),
base AS (
    SELECT s.id, s.vendor_tenant_id AS tenant, s.plan_id, s.storage_item, s.quantity, p.product_group_id, $KEY AS key,
           greatest(s.start_date, (s.activated_at AT TIME ZONE @zone)::date, CAST(@from AS date)) AS d1,
           least(coalesce(s.end_date, (s.terminated_at AT TIME ZONE @zone)::date, CAST(@to AS date)), CAST(@to AS date)) AS d2
    FROM services s
    JOIN plans p ON p.id = s.plan_id
    WHERE s.vendor_tenant_id IS NOT NULL AND s.start_date IS NOT NULL AND s.activated_at IS NOT NULL
      AND s.start_date <= CAST(@to AS date) AND coalesce(s.end_date, CAST(@to AS date)) >= CAST(@from AS date)
),
qc AS (
    -- quantity changes, for the services that have any
    SELECT b.id,
           (array_agg(c.quantity ORDER BY c.day DESC) FILTER (WHERE c.day <= b.d1))[1] AS at_start,
           (array_agg(c.quantity ORDER BY c.day))[1] AS first,
           max(c.quantity) FILTER (WHERE c.day > b.d1 AND c.day <= b.d2) AS later
    FROM base b
    JOIN service_quantity_changes c ON c.service_id = b.id
    GROUP BY b.id
),
live AS (
    -- the peak quantity of the month: in force on its first day, or set later
    SELECT b.*, greatest(coalesce(q.at_start, q.first, b.quantity), q.later) AS qty
    FROM base b
    LEFT JOIN qc q ON q.id = b.id
    WHERE b.d1 <= b.d2
),
peaks AS MATERIALIZED (
    -- the month's usage read once: each tenant's peak per item over the
    -- month (planned alone: a hash aggregate over the month's rows)
    SELECT tenant_id, item, unit, max(value) AS peak
    FROM usage_daily
    WHERE day BETWEEN CAST(@from AS date) AND CAST(@to AS date)
    GROUP BY tenant_id, item, unit
),
used AS (
    -- a service's peak per item over the days it lived: its tenant's month
    -- peak when it lived the whole month, else read for its days (none:
    -- the item was not used while it lived)
    SELECT * FROM (
        SELECT v.key, v.id, v.product_group_id, v.plan_id, v.storage_item, v.qty, p.item, p.unit, p.unit = 'bytes' AS bytes,
               CASE WHEN v.d1 = CAST(@from AS date) AND v.d2 = CAST(@to AS date) THEN p.peak
                    ELSE (SELECT max(d.value) FROM usage_daily d
                          WHERE d.tenant_id = v.tenant AND d.item = p.item AND d.unit = p.unit AND d.day BETWEEN v.d1 AND v.d2) END AS peak
        FROM live v
        JOIN peaks p ON p.tenant_id = v.tenant
    ) x
    WHERE peak IS NOT NULL
),
cards AS (
    SELECT id, product_group_id, version, currency, exchange_rate FROM rate_cards
    WHERE year = @year AND month = @month AND replaced_at IS NULL
),
items AS (
    SELECT u.key, u.id, u.item, u.bytes,
           CASE WHEN u.bytes THEN 'GB' ELSE u.unit END AS unit,
           CASE WHEN u.bytes THEN greatest(ceil(u.peak::numeric / 1073741824), 0) ELSE u.peak::numeric END AS peak,
           c.id AS card_id, c.exchange_rate, r.rate_card_id IS NOT NULL AS has_row, r.unit AS card_unit, r.unit_cost, r.basis,
           $SIZE AS factor,
           u.qty, u.item = u.storage_item AS storage, pu.per_unit
    FROM used u
    LEFT JOIN cards c ON c.product_group_id = u.product_group_id
    LEFT JOIN rate_card_rows r ON r.rate_card_id = c.id AND lower(r.sku) = lower(u.item)
    LEFT JOIN plan_module_settings m ON m.plan_id = u.plan_id
    -- the per-unit quota set at the vendor (-1: unlimited; NULL: none);
    -- storage in GB, other items in their own unit
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN u.item = u.storage_item THEN
                CASE WHEN m.storage_quota_gb IS NULL THEN NULL
                     WHEN m.storage_quota_gb < 0 OR coalesce(m.overage_quota_gb, 0) < 0 THEN -1
                     ELSE m.storage_quota_gb + coalesce(m.overage_quota_gb, 0) END
            WHEN jsonb_typeof(o.q) = 'number' THEN greatest((o.q #>> '{}')::numeric, -1)
            END::numeric AS per_unit
        FROM (SELECT coalesce(m.offering_items->'common'->u.item, m.offering_items->'independent'->u.item) AS q) o
    ) pu
),
quoted AS (
    SELECT i.*,
           CASE WHEN i.per_unit IS NULL OR i.per_unit < 0 THEN NULL
                WHEN i.bytes AND NOT i.storage THEN ceil(i.per_unit * i.qty / 1073741824)
                ELSE i.per_unit * i.qty END AS quota,
           CASE WHEN NOT i.has_row OR i.card_id IS NULL THEN NULL
                WHEN i.per_unit IS NULL THEN 'none' WHEN i.per_unit < 0 THEN 'unlimited' END AS quota_state
    FROM items i
),
priced AS (
    SELECT q.key, q.id, q.item, q.unit, q.card_id, q.basis, q.quota, q.quota_state,
           CASE WHEN q.basis = 'quota' AND q.quota IS NOT NULL THEN q.quota ELSE q.peak END AS quantity,
           CASE WHEN q.card_id IS NULL THEN 'no_card'
                WHEN NOT q.has_row THEN 'no_rate'
                WHEN q.bytes <> (q.factor IS NOT NULL) THEN 'unit_mismatch'
                ELSE 'priced' END AS status,
           q.unit_cost, q.exchange_rate, q.factor
    FROM quoted q
),
costs AS MATERIALIZED (
    -- a narrow row per service and item, so that grouping them is cheap
    SELECT CASE WHEN status = 'priced' THEN 'cost' ELSE 'unpriced' END AS kind, key, item, unit,
           CASE WHEN status <> 'priced' THEN status WHEN basis = 'quota' AND quota IS NULL THEN quota_state END AS c,
           CASE WHEN status = 'priced' THEN quantity * unit_cost * exchange_rate / coalesce(factor, 1) ELSE quantity END AS amount
    FROM priced
    WHERE status = 'priced' OR quantity <> 0
)
SELECT 'revenue' AS kind, key, NULL::text AS a, NULL::text AS b, NULL::text AS c, sum(amount) AS amount, 0::bigint AS services, 0 AS version
FROM rev GROUP BY key
UNION ALL
SELECT kind, key, item, unit, c, sum(amount), count(*), 0
FROM costs GROUP BY kind, key, item, unit, c
UNION ALL
SELECT 'card', v.key, c.product_group_id::text, c.id::text, c.currency, c.exchange_rate, 0, c.version
FROM (SELECT DISTINCT key, product_group_id FROM live) v JOIN cards c ON c.product_group_id = v.product_group_id
UNION ALL
SELECT 'nocard', v.key, NULL, NULL, NULL, 0, count(*), 0
FROM live v WHERE NOT EXISTS (SELECT 1 FROM cards c WHERE c.product_group_id = v.product_group_id) GROUP BY v.key
UNION ALL
SELECT 'services', key, NULL, NULL, NULL, 0, count(*), 0
FROM (SELECT key, service_id FROM rev WHERE service_id IS NOT NULL UNION SELECT key, id FROM live) x GROUP BY key
`, "$SIZE", sizeFactor("r.unit"))
