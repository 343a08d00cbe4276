package invoicepdf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/internal/billing"
)

// explain says how a line was computed, from the detail billing stored
// with it (the same object the JSON's `detail` shows): days counted,
// usage, quota and what changed. Keys it does not know are left out; the
// line's own columns carry period, quantity, unit price and amount.
func explain(l billing.InvoiceLine, taxes map[string]billing.InvoiceTax) string {
	d := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(l.Detail))
	dec.UseNumber() // figures as stored, never through a float
	_ = dec.Decode(&d)
	str := func(k string) (string, bool) {
		v, ok := d[k]
		if !ok || v == nil {
			return "", false
		}
		switch x := v.(type) {
		case string:
			return x, x != ""
		case json.Number:
			return x.String(), true
		case bool:
			return fmt.Sprint(x), true
		}
		return "", false
	}
	has := func(ks ...string) bool {
		for _, k := range ks {
			if _, ok := str(k); !ok {
				return false
			}
		}
		return true
	}
	get := func(k string) string { s, _ := str(k); return s }
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }

	if has("plan") {
		if has("frequency") {
			add("plan %s, %s", get("plan"), get("frequency"))
		} else {
			add("plan %s", get("plan"))
		}
	}
	if has("from_plan", "to_plan") {
		add("plan changed from %s to %s", get("from_plan"), get("to_plan"))
	}
	if has("from_quantity", "to_quantity") {
		add("quantity changed from %s to %s", get("from_quantity"), get("to_quantity"))
	}
	if has("from_frequency", "to_frequency") {
		add("term changed from %s to %s", get("from_frequency"), get("to_frequency"))
	}
	switch {
	case has("active_days", "days_in_period"):
		add("%s of %s days active", get("active_days"), get("days_in_period"))
	case has("days_left", "days_in_period"):
		add("%s of %s days left in the period", get("days_left"), get("days_in_period"))
	case has("unused_days", "days_in_period"):
		add("%s of %s days unused", get("unused_days"), get("days_in_period"))
	}
	if has("old_unit_price") {
		add("previous unit price %s", get("old_unit_price"))
	}
	if has("offering_item") {
		usage := "usage of " + get("offering_item")
		if has("aggregation") {
			usage += ", " + get("aggregation")
		}
		if days, ok := d["days"].([]any); ok {
			usage += fmt.Sprintf(" of %d daily values", len(days))
		}
		if has("quantity") {
			usage += " = " + get("quantity")
		}
		parts = append(parts, usage)
	}
	if has("over_gb") {
		s := "storage"
		if has("storage_item") {
			s += " " + get("storage_item")
		}
		if has("peak_bytes") {
			if b, err := decimal.NewFromString(get("peak_bytes")); err == nil {
				s += ": peak " + b.Div(decimal.NewFromInt(1<<30)).Round(2).String() + " GB"
				if has("peak_day") {
					s += " on " + get("peak_day")
				}
			}
		}
		if has("soft_quota_gb") {
			s += ", quota " + get("soft_quota_gb") + " GB"
			if has("quantity") {
				s += " x " + get("quantity") + " units"
			}
		}
		s += ", " + get("over_gb") + " GB over"
		if has("price_per_gb") {
			s += " at " + get("price_per_gb") + " per GB"
		}
		parts = append(parts, s)
	}
	if has("setup_fee") {
		add("one-time setup fee")
	}
	if has("credit") {
		add("credit applied %s", get("credit"))
	}
	var names []string
	for _, id := range l.TaxIDs {
		if t, ok := taxes[id]; ok {
			names = append(names, t.Name+" "+t.Rate.String()+"%")
		}
	}
	if len(names) > 0 {
		parts = append(parts, "taxed: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}
