package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

func (s *Server) oiView(t *tenant, o *offeringItem) map[string]any {
	var edition any
	if o.Edition != "" {
		edition = o.Edition
	}
	v := map[string]any{
		"application_id":   o.App,
		"name":             o.Name,
		"edition":          edition,
		"usage_name":       o.UsageName,
		"tenant_id":        t.ID,
		"status":           o.Status,
		"type":             o.Type,
		"measurement_unit": o.Unit,
		"locked":           o.Locked,
		"updated_at":       formatTenantTime(o.UpdatedAt),
		"deleted_at":       nil,
	}
	if o.Infra {
		v["infra_id"] = s.infraID
	}
	if o.Status == 1 {
		v["quota"] = map[string]any{"value": o.QValue, "overage": o.QOverage, "version": o.QVersion}
	}
	return v
}

// oiFilter applies the list query parameters of the offering-item endpoints.
func oiFilter(r *http.Request, o *offeringItem, infraID string) bool {
	q := r.URL.Query()
	edition := "standard" // documented default when omitted
	if q.Has("edition") {
		edition = q.Get("edition")
	}
	if !hasEdition(o.catalogItem, edition) {
		return false
	}
	if un := splitList(q.Get("usage_names")); len(un) > 0 && !slices.Contains(un, o.UsageName) {
		return false
	}
	if st := q.Get("status"); st != "" && st != strconv.Itoa(o.Status) {
		return false
	}
	if ty := q.Get("type"); ty != "" && ty != o.Type {
		return false
	}
	if iu := q.Get("infra_uuid"); iu != "" && (!o.Infra || iu != infraID) {
		return false
	}
	if app := q.Get("application_id"); app != "" && app != o.App {
		return false
	}
	return true
}

func (s *Server) handleGetOIs(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	items := []any{}
	for _, o := range t.OIs {
		if oiFilter(r, o, s.infraID) {
			items = append(items, s.oiView(t, o))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(s.now()), "items": items})
}

func (s *Server) handleAvailableForChild(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	kind := r.URL.Query().Get("kind")
	if kind != "" && !slices.Contains(tenantKinds, kind) {
		writeHTTPErr(w, badRequest("'kind' has an invalid value"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if kind != "" && !slices.Contains(allowedChildKinds[t.Kind], kind) {
		writeHTTPErr(w, badRequest(fmt.Sprintf("A tenant of kind %q cannot have children of kind %q", t.Kind, kind)))
		return
	}
	items := []any{}
	for _, o := range t.OIs {
		if o.Status != 1 || !oiFilter(r, o, s.infraID) {
			continue
		}
		// What the child would get: enabled, unlimited.
		c := &offeringItem{catalogItem: o.catalogItem, Status: 1, UpdatedAt: o.UpdatedAt}
		items = append(items, s.oiView(t, c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(s.now()), "items": items})
}

type oiChange struct {
	item      *offeringItem // nil = not yet present on the tenant
	cat       catalogItem
	status    int
	setQuota  bool
	value     *int64
	overage   *int64
	setStatus bool
}

func oiNotAvailable(name string) *httpErr {
	e := newErr(http.StatusBadRequest, 1021, "Offering item is not available.",
		fmt.Sprintf("Offering item %q is not available for the tenant", name))
	e.env.Context["name"] = name
	return e
}

func hardQuotaExceeded(name string) *httpErr {
	e := newErr(http.StatusBadRequest, 1022, "Hard quota exceeded.",
		fmt.Sprintf("The quota of offering item %q exceeds the hard quota of the parent tenant", name))
	e.env.Context["name"] = name
	return e
}

func (s *Server) handlePutOIs(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, e := readJSONObject(r, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	// Unknown top-level keys (timestamp, paging echoed by BASH) are ignored.
	raw, ok := body["offering_items"]
	if !ok || raw == nil {
		writeHTTPErr(w, badRequest("'offering_items' is a required property"))
		return
	}
	list, ok := raw.([]any)
	if !ok {
		writeHTTPErr(w, badRequest("'offering_items' must be an array"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if t.ID == p.TenantID || t.ParentID == t.ID {
		writeHTTPErr(w, forbidden("A tenant cannot change its own offering items."))
		return
	}
	parent := s.st.tenants[t.ParentID]
	changes := make([]*oiChange, 0, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			writeHTTPErr(w, badRequest(fmt.Sprintf("offering_items[%d] must be an object", i)))
			return
		}
		c, e := s.parseOIChange(t, parent, m, i)
		if e != nil {
			writeHTTPErr(w, e)
			return
		}
		changes = append(changes, c)
	}
	now := s.now().UTC()
	var touched []*offeringItem
	for _, c := range changes {
		o := c.item
		if o == nil {
			o = &offeringItem{catalogItem: c.cat, UpdatedAt: now}
			t.OIs = append(t.OIs, o)
		}
		if c.setStatus && c.status != o.Status {
			o.Status = c.status
			if c.status == 1 {
				t.Apps[o.App] = true // enabling an item enables its application
			}
			o.UpdatedAt = now
			o.QValue, o.QOverage, o.QVersion = nil, nil, 0
			if c.status == 0 {
				s.disableBelow(t.ID, o.Name, now)
			}
		}
		if c.setQuota && o.Status == 1 {
			switch {
			case c.value == nil:
				o.QValue, o.QOverage, o.QVersion = nil, nil, 0
			case !eqPtr(c.value, o.QValue) || !eqPtr(c.overage, o.QOverage):
				o.QValue, o.QOverage = c.value, c.overage
				o.QVersion = max(now.UnixMilli(), o.QVersion+1)
			}
			o.UpdatedAt = now
		}
		if !slices.Contains(touched, o) {
			touched = append(touched, o)
		}
	}
	items := []any{}
	for _, o := range touched {
		items = append(items, s.oiView(t, o))
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(now), "items": items})
}

func eqPtr(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// parseOIChange validates one item of the PUT body. Unknown item fields are ignored (§1.7).
func (s *Server) parseOIChange(t, parent *tenant, m map[string]any, i int) (*oiChange, *httpErr) {
	name, _, e := getString(m, "name")
	if e != nil {
		return nil, e
	}
	if name == "" {
		return nil, badRequest(fmt.Sprintf("offering_items[%d]: 'name' is a required property", i))
	}
	app, _, e := getString(m, "application_id")
	if e != nil {
		return nil, e
	}
	c := &oiChange{item: t.oi(name)}
	var po *offeringItem
	if parent != nil {
		po = parent.oi(name)
	}
	switch {
	case c.item != nil:
		c.cat = c.item.catalogItem
	case po != nil:
		c.cat = po.catalogItem
	default:
		return nil, oiNotAvailable(name)
	}
	if app != "" && app != c.cat.App {
		return nil, oiNotAvailable(name)
	}
	if infra, _, e := getNullableString(m, "infra_id"); e != nil {
		return nil, e
	} else if infra != nil && c.cat.Infra && *infra != s.infraID {
		return nil, oiNotAvailable(name)
	}
	if st, ok := m["status"]; ok && st != nil {
		n, ok := toInt(st)
		if b, isBool := toBool(st); !ok && isBool {
			n, ok = 0, true
			if b {
				n = 1
			}
		}
		if !ok || (n != 0 && n != 1) {
			return nil, badRequest(fmt.Sprintf("offering_items[%d]: 'status' must be 0 or 1", i))
		}
		c.status, c.setStatus = int(n), true
	}
	finalStatus := 0
	if c.item != nil {
		finalStatus = c.item.Status
	}
	if c.setStatus {
		finalStatus = c.status
	}
	if finalStatus == 1 && (po == nil || po.Status != 1) {
		return nil, oiNotAvailable(name)
	}
	if c.item != nil && c.item.Locked && c.setStatus && c.status != c.item.Status {
		return nil, newErr(http.StatusBadRequest, 1023, "Offering item dependency error.",
			fmt.Sprintf("Offering item %q is locked", name))
	}
	q, hasQuota, e := getObject(m, "quota")
	if e != nil {
		return nil, e
	}
	if !hasQuota || finalStatus != 1 {
		return c, nil
	}
	curVersion := int64(0)
	if c.item != nil && c.item.Status == 1 && !(c.setStatus && c.status != c.item.Status) {
		curVersion = c.item.QVersion
	}
	if v, ok, e := getInt(q, "version"); e != nil {
		return nil, e
	} else if ok && v != curVersion {
		return nil, versionMismatch(name, v, curVersion)
	}
	val, _, e := getNullableInt(q, "value")
	if e != nil {
		return nil, e
	}
	ov, _, e := getNullableInt(q, "overage")
	if e != nil {
		return nil, e
	}
	if (val != nil && *val < 0) || (ov != nil && *ov < 0) {
		return nil, badRequest(fmt.Sprintf("offering_items[%d]: quota values must be >= 0", i))
	}
	if val == nil {
		ov = nil
	}
	if val != nil && po != nil && po.QValue != nil && po.QOverage != nil {
		hard := *po.QValue + *po.QOverage
		child := *val
		if ov != nil {
			child += *ov
		}
		if child > hard {
			return nil, hardQuotaExceeded(name)
		}
	}
	c.setQuota, c.value, c.overage = true, val, ov
	return c, nil
}

// disableBelow turns an item off in every descendant of id.
func (s *Server) disableBelow(id, name string, now time.Time) {
	for _, c := range s.st.tenants {
		if c.ParentID != id || c.ID == id {
			continue
		}
		if o := c.oi(name); o != nil && o.Status == 1 {
			o.Status, o.QValue, o.QOverage, o.QVersion, o.UpdatedAt = 0, nil, nil, 0, now
		}
		s.disableBelow(c.ID, name, now)
	}
}
