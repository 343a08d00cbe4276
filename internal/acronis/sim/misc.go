package sim

import (
	"hash/fnv"
	"net/http"
	"slices"
	"time"
)

func (s *Server) appView(a application) map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "type": a.Type, "usages": slices.Clone(a.Usages),
		"api_base_url": s.baseURL + "/api/" + a.Type}
}

func (s *Server) handleApplications(w http.ResponseWriter, _ *http.Request, _ *principal, _ []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []any{}
	for _, a := range applications {
		items = append(items, s.appView(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleApplication(w http.ResponseWriter, _ *http.Request, _ *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := findApp(args[0])
	if a == nil {
		writeHTTPErr(w, notFound("Application", args[0]))
		return
	}
	writeJSON(w, http.StatusOK, s.appView(*a))
}

func (s *Server) binding(w http.ResponseWriter, p *principal, args []string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if findApp(args[0]) == nil {
		writeHTTPErr(w, notFound("Application", args[0]))
		return
	}
	t, e := s.visibleTenant(p, args[1], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	switch {
	case on:
		t.Apps[args[0]] = true
	case args[0] == AppPlatform:
		writeHTTPErr(w, badRequest("The management portal application cannot be disabled for a tenant."))
		return
	default:
		s.unbindBelow(t, args[0], s.now())
	}
	writeNoContent(w)
}

// unbindBelow disables an application for a tenant and its subtree: the
// binding goes and so do the application's offering items (quotas cleared),
// as the vendor does when a service is switched off for a customer.
func (s *Server) unbindBelow(t *tenant, app string, now time.Time) {
	for _, c := range s.st.tenants {
		if c.ID != t.ID && !s.st.inSubtree(t.ID, c.ID) {
			continue
		}
		delete(c.Apps, app)
		for _, o := range c.OIs {
			if o.App == app && o.Status == 1 {
				o.Status, o.QValue, o.QOverage, o.QVersion, o.UpdatedAt = 0, nil, nil, 0, now
			}
		}
	}
}

func (s *Server) handleBind(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.binding(w, p, args, true)
}

func (s *Server) handleUnbind(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.binding(w, p, args, false)
}

func (s *Server) tenantAppIDs(t *tenant) []string {
	out := []string{}
	for _, a := range applications {
		if t.Apps[a.ID] {
			out = append(out, a.ID)
		}
	}
	return out
}

func (s *Server) handleTenantApps(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": s.tenantAppIDs(t)})
}

func (s *Server) handleBatchTenantApps(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	s.perTenant(w, r, p, "applications", func(t *tenant) any { return s.tenantAppIDs(t) })
}

// perTenant answers a batch call over ?tenants=a,b with one item per tenant.
func (s *Server) perTenant(w http.ResponseWriter, r *http.Request, p *principal, key string, view func(*tenant) any) {
	ids := splitList(r.URL.Query().Get("tenants"))
	if len(ids) == 0 {
		writeHTTPErr(w, badRequest("The 'tenants' query parameter is required."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []any{}
	for _, id := range ids {
		t, e := s.visibleTenant(p, id, false)
		if e != nil {
			writeHTTPErr(w, e)
			return
		}
		items = append(items, map[string]any{"tenant": t.ID, key: view(t)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleEditions(w http.ResponseWriter, _ *http.Request, _ *principal, _ []string) {
	writeJSON(w, http.StatusOK, map[string]any{"items": slices.Clone(editions)})
}

func (s *Server) infraView() map[string]any {
	return map[string]any{"id": s.infraID, "owner_tenant_id": s.rootID, "location_id": s.locationID, "platform_owned": true,
		"name": "Simulated Cloud Storage", "url": "https://storage.sim.invalid", "capabilities": []string{"backup"},
		"backend_type": infraBackendType, "version": 1, "readonly": true}
}

const infraBackendType = "azure"

func (s *Server) locationView() map[string]any {
	return map[string]any{"id": s.locationID, "owner_tenant_id": s.rootID, "platform_owned": true,
		"name": "Simulated Location", "version": 1, "readonly": true}
}

func (s *Server) handleInfra(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	items := []any{}
	uuids := splitList(r.URL.Query().Get("uuids"))
	if len(uuids) == 0 || slices.Contains(uuids, s.infraID) {
		items = append(items, s.infraView())
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleLocations(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	items := []any{}
	uuids := splitList(r.URL.Query().Get("uuids"))
	if len(uuids) == 0 || slices.Contains(uuids, s.locationID) {
		items = append(items, s.locationView())
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleTenantInfra(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.visibleTenant(p, args[0], false); e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"infras": []string{s.infraID}})
}

func (s *Server) handleTenantLocations(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.visibleTenant(p, args[0], false); e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"locations": []string{s.locationID}})
}

// usageValue is the deterministic generator: a function of the seed, the
// tenant, the item and the simulator (UTC calendar) day, growing slowly day by day. An
// override set through /_sim/usage in force on the day wins. Caller holds s.mu.
func (s *Server) usageValue(t *tenant, o *offeringItem, day time.Time) int64 {
	if v, ok := overrideAt(s.st.usage[t.ID+"/"+o.Name], day); ok {
		return v
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(t.ID + "/" + o.Name))
	x := h.Sum64() ^ uint64(s.opts.Seed)*0x9e3779b97f4a7c15
	// Whole calendar days (UTC) since the tenant was created, so that every
	// moment of a day gives the figure the reports carry for that day.
	days := int64(dayOf(day).Sub(dayOf(t.CreatedAt)).Hours() / 24)
	base := int64(x%5) + days/7
	if o.Unit == "bytes" {
		return (base*10 + int64(x>>8%10)) << 30
	}
	return base
}

func (s *Server) usageViews(r *http.Request, t *tenant) []any {
	q := r.URL.Query()
	names := splitList(q.Get("usage_names"))
	eds := splitList(q.Get("editions"))
	now := s.now().UTC()
	rangeStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	// Usage is produced by customers' workloads; a partner's (the SP's
	// included) is the sum over the live customers and units below it.
	var leaves []*tenant
	if t.Kind != "customer" && t.Kind != "unit" {
		leaves = s.leaves(t)
	}
	out := []any{}
	for _, o := range t.OIs {
		if o.Status != 1 || (len(names) > 0 && !slices.Contains(names, o.UsageName)) ||
			(len(eds) > 0 && o.Edition != "" && !slices.Contains(eds, o.Edition)) {
			continue
		}
		var val int64
		if leaves == nil {
			val = s.usageValue(t, o, now)
		} else {
			val = s.figure(leaves, o.Name, now)[0]
		}
		var edition any
		if o.Edition != "" {
			edition = o.Edition
		}
		u := map[string]any{"application_id": o.App, "name": o.Name, "edition": edition, "usage_name": o.UsageName,
			"type": o.Type, "measurement_unit": o.Unit, "tenant_uuid": t.ID, "tenant_id": t.Seq,
			"range_start": formatTenantTime(rangeStart), "value": val, "absolute_value": val,
			"offering_item": map[string]any{"status": o.Status,
				"quota": map[string]any{"value": o.QValue, "overage": o.QOverage, "version": o.QVersion}}}
		if o.Infra {
			u["infra_id"] = s.infraID
		}
		out = append(out, u)
	}
	return out
}

func (s *Server) handleTenantUsages(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": s.usageViews(r, t)})
}

func (s *Server) handleBatchUsages(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	s.perTenant(w, r, p, "usages", func(t *tenant) any { return s.usageViews(r, t) })
}
