package sim

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// An edition switch (GET/PUT /tenants/{id}/edition) moves every enabled
// offering item of one application from its edition to the item of the target
// edition with the same usage name, keeping the quota. The GET is the dry run:
// its warnings name what the switch will disable; an item the parent does not
// offer in the target edition makes both calls fail with 400, the names in
// error.context.

type editionMove struct {
	from *offeringItem
	to   *catalogItem // nil: no counterpart, the item is only disabled
}

// editionPlan works the switch out. Caller holds s.mu.
func (s *Server) editionPlan(t *tenant, app, target string) (moves []editionMove, warnings []string, e *httpErr) {
	var parent *tenant
	if t.ParentID != t.ID {
		parent = s.st.tenants[t.ParentID]
	}
	warnings = []string{}
	var missing []string
	for _, o := range t.OIs {
		if o.App != app || o.Status != 1 || o.Edition == "" || o.Edition == target {
			continue
		}
		var to *catalogItem
		for i := range catalog {
			c := &catalog[i]
			if c.App == app && c.Edition == target && c.UsageName == o.UsageName {
				to = c
				break
			}
		}
		if to == nil {
			warnings = append(warnings, fmt.Sprintf("Offering item %q has no counterpart in edition %q and will be disabled.", o.Name, target))
		} else if parent != nil {
			if po := parent.oi(to.Name); po == nil || po.Status != 1 {
				missing = append(missing, to.Name)
				continue
			}
		}
		if n := s.enabledBelow(t.ID, o.Name); n > 0 {
			warnings = append(warnings, fmt.Sprintf("Offering item %q will also be disabled for %d child tenant(s).", o.Name, n))
		}
		moves = append(moves, editionMove{from: o, to: to})
	}
	if len(missing) > 0 {
		e = newErr(http.StatusBadRequest, 1021, "Offering item is not available.",
			fmt.Sprintf("Edition %q cannot be switched to: offering items are not available for the tenant", target))
		e.env.Context["offering_items"] = missing
		return nil, nil, e
	}
	return moves, warnings, nil
}

// enabledBelow counts the descendants of id that have the item enabled.
func (s *Server) enabledBelow(id, name string) int {
	n := 0
	for _, c := range s.st.tenants {
		if c.ID != id && c.live() && s.st.inSubtree(id, c.ID) {
			if o := c.oi(name); o != nil && o.Status == 1 {
				n++
			}
		}
	}
	return n
}

// editionArgs validates the application and the target edition.
func editionArgs(app, target string) *httpErr {
	switch {
	case target == "":
		return badRequest("'target_edition' is a required property")
	case app == "":
		return badRequest("'application_id' is a required property")
	case findApp(app) == nil:
		return notFound("Application", app)
	}
	for _, c := range catalog {
		if c.App == app && c.Edition == target {
			return nil
		}
	}
	e := badRequest(fmt.Sprintf("Edition %q does not exist for application %q", target, app))
	e.env.Context["target_edition"] = target
	return e
}

func (s *Server) handleEditionCheck(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	q := r.URL.Query()
	app, target := q.Get("application_id"), q.Get("target_edition")
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e == nil {
		e = editionArgs(app, target)
	}
	var warnings []string
	if e == nil {
		_, warnings, e = s.editionPlan(t, app, target)
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"warnings": warnings})
}

func (s *Server) handleEditionSwitch(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, "target_edition", "application_id")
	}
	var app, target string
	if e == nil {
		target, _, e = getString(body, "target_edition")
	}
	if e == nil {
		app, _, e = getString(body, "application_id")
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e == nil {
		e = editionArgs(app, target)
	}
	var moves []editionMove
	if e == nil {
		moves, _, e = s.editionPlan(t, app, target)
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	now := s.now()
	for _, m := range moves {
		if m.to != nil {
			o := t.oi(m.to.Name)
			if o == nil {
				o = &offeringItem{catalogItem: *m.to}
				t.OIs = append(t.OIs, o)
			}
			o.Status, o.QValue, o.QOverage, o.UpdatedAt = 1, m.from.QValue, m.from.QOverage, now
			t.Apps[o.App] = true
			o.QVersion = 0
			if o.QValue != nil {
				o.QVersion = max(now.UnixMilli(), m.from.QVersion+1)
			}
		}
		f := m.from
		f.Status, f.QValue, f.QOverage, f.QVersion, f.UpdatedAt = 0, nil, nil, 0, now
		s.disableBelow(t.ID, f.Name, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(now), "items": s.appItems(t, app)})
}

func (s *Server) appItems(t *tenant, app string) []any {
	items := []any{}
	for _, o := range t.OIs {
		if o.App == app {
			items = append(items, s.oiView(t, o))
		}
	}
	return items
}

// handleBatchOIs is GET /tenants/offering_items?subtree_root_tenant_id=: the
// offering items of every live tenant in a subtree (the root included), ordered
// by tenant and item, paged by limit (default 5000) and the opaque after cursor.
// Filters: usage_names, editions, offering_items (names), updated_since.
func (s *Server) handleBatchOIs(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	q := r.URL.Query()
	root := q.Get("subtree_root_tenant_id")
	if root == "" {
		writeHTTPErr(w, badRequest("The 'subtree_root_tenant_id' query parameter is required."))
		return
	}
	limit, e := queryLimit(q.Get("limit"), 5000)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	var since time.Time
	if v := q.Get("updated_since"); v != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			writeHTTPErr(w, badRequest("'updated_since' must be an RFC 3339 date-time"))
			return
		}
	}
	names, usages, eds := splitList(q.Get("offering_items")), splitList(q.Get("usage_names")), splitList(q.Get("editions"))
	deleted := queryBool(r, "allow_deleted")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.visibleTenant(p, root, false); e != nil {
		writeHTTPErr(w, e)
		return
	}
	var ts []*tenant
	for _, t := range s.st.tenants {
		if !t.Personal && (deleted || t.DeletedAt == nil) && s.st.inSubtree(root, t.ID) {
			ts = append(ts, t)
		}
	}
	sortTenants(ts)
	after := q.Get("after")
	started := after == ""
	items := []any{}
	var last string
	more := false
scan:
	for _, t := range ts {
		for _, o := range t.OIs {
			key := t.ID + ":" + o.Name
			if !started {
				started = key == after
				continue
			}
			if (len(names) > 0 && !slices.Contains(names, o.Name)) || (len(usages) > 0 && !slices.Contains(usages, o.UsageName)) ||
				(len(eds) > 0 && o.Edition != "" && !slices.Contains(eds, o.Edition) && !slices.Contains(eds, "*")) ||
				(!since.IsZero() && o.UpdatedAt.Before(since)) {
				continue
			}
			if len(items) == limit {
				more = true
				break scan
			}
			items = append(items, s.oiView(t, o))
			last = key
		}
	}
	paging := map[string]any{"cursors": map[string]any{}}
	if more {
		paging["cursors"] = map[string]any{"after": last}
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(s.now()), "items": items, "paging": paging})
}

func queryLimit(v string, def int) (int, *httpErr) {
	if v == "" {
		return def, nil
	}
	n := 0
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != v {
		return 0, badRequest("'limit' must be a positive integer")
	}
	return n, nil
}
