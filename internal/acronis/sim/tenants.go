package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func sortTenants(ts []*tenant) { slices.SortFunc(ts, func(a, b *tenant) int { return a.Seq - b.Seq }) }

// tenantView renders the full (lod=full) tenant object. Caller holds s.mu.
func (s *Server) tenantView(t *tenant) map[string]any {
	var deleted, prod any
	if t.DeletedAt != nil {
		deleted = formatTenantTime(*t.DeletedAt)
	}
	if t.ProductionStart != nil {
		prod = formatTenantTime(*t.ProductionStart)
	}
	contact := map[string]any{}
	for k, v := range t.Contact {
		contact[k] = v
	}
	// SPEC's tenant example (and the lod=full batch schema) carry these.
	contact["id"] = t.ContactID
	contact["created_at"] = formatTenantTime(t.CreatedAt)
	contact["updated_at"] = formatTenantTime(t.UpdatedAt)
	if _, ok := contact["types"]; !ok {
		contact["types"] = []string{}
	}
	return map[string]any{
		"id":                        t.ID,
		"version":                   t.Version,
		"name":                      t.Name,
		"kind":                      t.Kind,
		"parent_id":                 t.ParentID,
		"enabled":                   t.Enabled,
		"customer_type":             t.CustomerType,
		"customer_id":               t.CustomerID,
		"internal_tag":              t.InternalTag,
		"language":                  t.Language,
		"contact":                   contact,
		"contacts":                  []any{},
		"has_children":              s.st.hasChildren(t.ID),
		"update_lock":               map[string]any{"enabled": t.UpdateLock, "owner_id": t.UpdateLockOwner},
		"ancestral_access":          t.AncestralAccess,
		"brand_id":                  1,
		"brand_uuid":                brandUUID,
		"brand_enabled":             true,
		"owner_id":                  t.OwnerID,
		"default_idp_id":            t.DefaultIDP,
		"mfa_status":                "disabled",
		"pricing_mode":              t.PricingMode,
		"production_start_date":     prod,
		"external_operation_status": nil,
		"created_at":                formatTenantTime(t.CreatedAt),
		"updated_at":                formatTenantTime(t.UpdatedAt),
		"deleted_at":                deleted,
	}
}

// visibleTenant looks a tenant up within the caller's subtree. Caller holds s.mu.
func (s *Server) visibleTenant(p *principal, id string, allowDeleted bool) (*tenant, *httpErr) {
	t := s.st.tenants[id]
	if t == nil || (t.DeletedAt != nil && !allowDeleted) {
		e := notFound("Tenant", id)
		e.env.Code, e.env.Message = 1005, "Tenant not found."
		return nil, e
	}
	if !s.st.inSubtree(p.TenantID, id) {
		return nil, forbidden(fmt.Sprintf("Access to tenant %q is denied.", id))
	}
	return t, nil
}

var allowedChildKinds = map[string][]string{
	"root":     {"partner", "folder", "customer"},
	"partner":  {"partner", "folder", "customer"},
	"folder":   {"partner", "folder", "customer"},
	"customer": {"unit"},
	"unit":     {"unit"},
}

var tenantKinds = []string{"root", "partner", "folder", "customer", "unit"}

func nameConflict(name, parent string) *httpErr {
	e := newErr(http.StatusConflict, 1004, "Tenant name conflict.",
		fmt.Sprintf("A tenant with name %q already exists under the parent %q", name, parent))
	e.env.Context["name"] = name
	return e
}

func (s *Server) siblingNameTaken(parent, name, except string) bool {
	for _, c := range s.st.kids[parent] {
		if !c.Personal && c.DeletedAt == nil && c.ID != except && c.Name == name {
			return true
		}
	}
	return false
}

var tenantPostKeys = []string{"name", "parent_id", "kind", "contact", "company_billing_contact", "enabled", "customer_id",
	"internal_tag", "language", "default_idp_id", "update_lock", "ancestral_access", "settings"}

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, tenantPostKeys...)
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	name, _, e1 := getString(body, "name")
	kind, _, e2 := getString(body, "kind")
	parentID, _, e3 := getString(body, "parent_id")
	for _, x := range []*httpErr{e1, e2, e3} {
		if x != nil {
			writeHTTPErr(w, x)
			return
		}
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		writeHTTPErr(w, badRequest("'name' is a required property"))
		return
	case kind == "":
		writeHTTPErr(w, badRequest("'kind' is a required property"))
		return
	case parentID == "":
		writeHTTPErr(w, badRequest("'parent_id' is a required property"))
		return
	case !slices.Contains(tenantKinds, kind):
		writeHTTPErr(w, badRequest(fmt.Sprintf("'kind' must be one of %v", tenantKinds)))
		return
	}
	t := &tenant{Kind: kind, Name: name, ParentID: parentID, Version: 1, Enabled: true, CustomerType: "default",
		Language: "en", Contact: newTenantContact(), AncestralAccess: true, DefaultIDP: defaultIDPID, Apps: map[string]bool{AppPlatform: true}}
	if e := applyTenantFields(t, body); e != nil {
		writeHTTPErr(w, e)
		return
	}
	if c, ok, e := getObject(body, "contact"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok {
		mergeContact(t.Contact, c, true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, e := s.visibleTenant(p, parentID, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if !parent.Enabled {
		e := newErr(http.StatusBadRequest, 1003, "Parent tenant is disabled.",
			fmt.Sprintf("Cannot create a tenant under the disabled tenant %q", parentID))
		e.env.Context["id"] = parentID
		writeHTTPErr(w, e)
		return
	}
	if !slices.Contains(allowedChildKinds[parent.Kind], kind) {
		writeHTTPErr(w, newErr(http.StatusBadRequest, 1027, "Business rules are not satisfied.",
			fmt.Sprintf("A tenant of kind %q cannot be created in a tenant of kind %q", kind, parent.Kind)))
		return
	}
	if s.siblingNameTaken(parentID, name, "") {
		writeHTTPErr(w, nameConflict(name, parentID))
		return
	}
	now := s.now().UTC()
	t.ID, t.ContactID = s.newID(), s.newID()
	t.CreatedAt, t.UpdatedAt, t.Seq = now, now, s.st.nextSeq()
	t.PricingMode = "production"
	if kind == "customer" || kind == "unit" {
		t.PricingMode = parent.PricingMode
		if kind == "customer" {
			t.PricingMode = "trial"
		}
	}
	t.PricingVersion = now.UnixMilli()
	s.inheritOIs(t, parent, now)
	s.st.add(t)
	writeJSON(w, http.StatusCreated, s.tenantView(t))
}

// inheritOIs gives a new tenant the parent's enabled items, turned off.
func (s *Server) inheritOIs(t, parent *tenant, now time.Time) {
	for _, o := range parent.OIs {
		if o.Status == 1 {
			t.OIs = append(t.OIs, &offeringItem{catalogItem: o.catalogItem, Status: 0, UpdatedAt: now})
		}
	}
}

// applyTenantFields applies the optional fields shared by POST and PUT.
func applyTenantFields(t *tenant, body map[string]any) *httpErr {
	if v, ok, e := getBool(body, "enabled"); e != nil {
		return e
	} else if ok {
		t.Enabled = v
	}
	if v, ok, e := getNullableString(body, "customer_id"); e != nil {
		return e
	} else if ok {
		t.CustomerID = v
	}
	if v, ok, e := getNullableString(body, "internal_tag"); e != nil {
		return e
	} else if ok {
		t.InternalTag = v
	}
	if v, ok, e := getString(body, "language"); e != nil {
		return e
	} else if ok && v != "" {
		t.Language = v
	}
	if v, ok, e := getString(body, "default_idp_id"); e != nil {
		return e
	} else if ok && v != "" {
		t.DefaultIDP = v
	}
	if v, ok, e := getBool(body, "ancestral_access"); e != nil {
		return e
	} else if ok {
		t.AncestralAccess = v
	}
	if v, ok, e := getString(body, "customer_type"); e != nil {
		return e
	} else if ok && v != "" {
		if !slices.Contains([]string{"default", "enterprise", "consumer", "small_office", "ti_unified"}, v) {
			return badRequest("'customer_type' has an invalid value")
		}
		t.CustomerType = v
	}
	if ul, ok, e := getObject(body, "update_lock"); e != nil {
		return e
	} else if ok {
		v, present, e := getBool(ul, "enabled")
		if e != nil {
			return e
		}
		if present {
			t.UpdateLock = v
			if v {
				owner := t.ParentID
				if o, ok, _ := getString(ul, "owner_id"); ok && o != "" {
					owner = o
				}
				t.UpdateLockOwner = &owner
			} else {
				t.UpdateLockOwner = nil
			}
		}
	}
	return nil
}

func (s *Server) handleGetTenant(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], queryBool(r, "allow_deleted"))
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, s.tenantView(t))
}

// Keys of a GET tenant object that a PUT may echo back; they are ignored.
var tenantReadOnlyKeys = []string{"id", "created_at", "updated_at", "deleted_at", "contacts", "has_children",
	"brand_uuid", "brand_enabled", "owner_id", "mfa_status", "pricing_mode", "production_start_date"}

var tenantPutKeys = []string{"name", "customer_type", "parent_id", "kind", "contact", "enabled", "customer_id", "version",
	"brand_id", "internal_tag", "language", "default_idp_id", "update_lock", "ancestral_access", "external_operation_status"}

func (s *Server) handleUpdateTenant(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, version, e := readVersionedPut(r, append(slices.Clone(tenantPutKeys), tenantReadOnlyKeys...))
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if version != t.Version {
		writeHTTPErr(w, versionMismatch(t.ID, version, t.Version))
		return
	}
	upd := *t
	upd.Contact = map[string]any{}
	for k, v := range t.Contact {
		upd.Contact[k] = v
	}
	if name, ok, e := getString(body, "name"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok && strings.TrimSpace(name) != t.Name {
		name = strings.TrimSpace(name)
		if name == "" {
			writeHTTPErr(w, badRequest("'name' must not be empty"))
			return
		}
		if s.siblingNameTaken(t.ParentID, name, t.ID) {
			writeHTTPErr(w, nameConflict(name, t.ParentID))
			return
		}
		upd.Name = name
	}
	if kind, ok, e := getString(body, "kind"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok && kind != t.Kind {
		if !((kind == "partner" && t.Kind == "folder") || (kind == "folder" && t.Kind == "partner")) {
			writeHTTPErr(w, badRequest("Only partner and folder kinds can be changed into each other."))
			return
		}
		upd.Kind = kind
	}
	if parent, ok, e := getString(body, "parent_id"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok && parent != t.ParentID {
		// Moving tenants is outside the simulated surface.
		writeHTTPErr(w, newErr(http.StatusBadRequest, 1027, "Business rules are not satisfied.",
			"Moving tenants is not supported by the simulator."))
		return
	}
	if e := applyTenantFields(&upd, body); e != nil {
		writeHTTPErr(w, e)
		return
	}
	if c, ok, e := getObject(body, "contact"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok {
		mergeContact(upd.Contact, c, true)
	}
	upd.Version = t.Version + 1
	upd.UpdatedAt = s.now().UTC()
	*t = upd
	writeJSON(w, http.StatusOK, s.tenantView(t))
}

func (s *Server) handleDeleteTenant(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	vs := r.URL.Query().Get("version")
	if vs == "" {
		writeHTTPErr(w, badRequest("The 'version' query parameter is required."))
		return
	}
	version, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		writeHTTPErr(w, badRequest("The 'version' query parameter must be an integer."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if t.ID == p.TenantID {
		writeHTTPErr(w, forbidden("A tenant cannot delete itself."))
		return
	}
	if version != t.Version {
		writeHTTPErr(w, versionMismatch(t.ID, version, t.Version))
		return
	}
	if t.Enabled {
		writeHTTPErr(w, deleteEnabledErr(t.ID))
		return
	}
	s.deleteSubtree(t, s.now().UTC())
	writeNoContent(w)
}

// deleteSubtree soft-deletes a tenant, its sub-tenants and their users.
func (s *Server) deleteSubtree(t *tenant, now time.Time) {
	for _, c := range s.st.tenants {
		if c.DeletedAt == nil && c.ID != t.ID && c.ParentID == t.ID {
			s.deleteSubtree(c, now)
		}
	}
	for _, u := range s.st.users {
		if u.DeletedAt == nil && u.TenantID == t.ID {
			s.deleteUser(u, now)
		}
	}
	t.DeletedAt = &now
	t.UpdatedAt = now
	t.Version++
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	q, e := resolveCursor(r.URL.Query())
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	allowDeleted, _ := toBool(q.Get("allow_deleted"))
	uuids := splitList(q.Get("uuids"))
	parent, subtree := q.Get("parent_id"), q.Get("subtree_root_id")
	n := 0
	for _, x := range []bool{len(uuids) > 0, parent != "", subtree != ""} {
		if x {
			n++
		}
	}
	if n > 1 {
		writeHTTPErr(w, badRequest("'uuids', 'parent_id' and 'subtree_root_id' are mutually exclusive."))
		return
	}
	if len(uuids) > 100 {
		writeHTTPErr(w, badRequest("At most 100 uuids are allowed."))
		return
	}
	root := p.TenantID
	if subtree != "" {
		if _, e := s.visibleTenant(p, subtree, allowDeleted); e != nil {
			writeHTTPErr(w, e)
			return
		}
		root = subtree
	}
	if parent != "" {
		if _, e := s.visibleTenant(p, parent, allowDeleted); e != nil {
			writeHTTPErr(w, e)
			return
		}
	}
	var updatedSince time.Time
	if us := q.Get("updated_since"); us != "" {
		t, err := time.Parse(time.RFC3339, us)
		if err != nil {
			writeHTTPErr(w, badRequest("'updated_since' must be an RFC3339 date-time"))
			return
		}
		updatedSince = t
	}
	var out []*tenant
	candidates := s.st.tenants
	if len(uuids) > 0 { // look the batch up instead of scanning every tenant
		candidates = map[string]*tenant{}
		for _, id := range uuids {
			if t := s.st.tenants[id]; t != nil {
				candidates[id] = t
			}
		}
	}
	for _, t := range candidates {
		switch {
		case t.Personal, t.DeletedAt != nil && !allowDeleted, !s.st.inSubtree(root, t.ID):
			continue
		case len(uuids) > 0 && !slices.Contains(uuids, t.ID):
			continue
		case parent != "" && (t.ParentID != parent || t.ID == parent):
			continue
		case q.Has("internal_tag") && (t.InternalTag == nil || *t.InternalTag != q.Get("internal_tag")):
			continue
		case q.Has("customer_id") && (t.CustomerID == nil || *t.CustomerID != q.Get("customer_id")):
			continue
		case q.Has("name") && t.Name != q.Get("name"):
			continue
		case q.Has("kind") && t.Kind != q.Get("kind"):
			continue
		case !updatedSince.IsZero() && t.UpdatedAt.Before(updatedSince):
			continue
		}
		out = append(out, t)
	}
	sortTenants(out)
	page, paging, e := paginate(q, len(out), 5000)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	withOIs, _ := toBool(q.Get("with_offering_items"))
	items := []any{}
	for _, t := range out[page[0]:page[1]] {
		v := s.tenantView(t)
		ois := []any{}
		if withOIs {
			for _, o := range t.OIs {
				ois = append(ois, s.oiView(t, o))
			}
		}
		v["offering_items"] = ois
		v["barrier"] = 0
		items = append(items, v)
	}
	resp := map[string]any{"timestamp": formatTenantTime(s.now()), "items": items}
	if paging != nil {
		resp["paging"] = paging
	}
	writeJSON(w, http.StatusOK, resp)
}

// resolveCursor replaces the query with the one encoded in ?after=.
func resolveCursor(q url.Values) (url.Values, *httpErr) {
	after := q.Get("after")
	if after == "" {
		return q, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(after)
	if err != nil {
		return nil, badRequest("Invalid 'after' cursor.")
	}
	nq, err := url.ParseQuery(string(raw))
	if err != nil || !nq.Has("_offset") {
		return nil, badRequest("Invalid 'after' cursor.")
	}
	return nq, nil
}

// paginate returns the [from,to) window and the paging object (nil on the last page).
func paginate(q url.Values, total, def int) ([2]int, map[string]any, *httpErr) {
	limit := def
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return [2]int{}, nil, badRequest("'limit' must be a positive integer")
		}
		limit = n
	}
	off, _ := strconv.Atoi(q.Get("_offset"))
	off = min(max(off, 0), total)
	end := min(off+limit, total)
	if end >= total {
		return [2]int{off, end}, nil, nil
	}
	nq := url.Values{}
	for k, v := range q {
		if k != "after" {
			nq[k] = v
		}
	}
	nq.Set("_offset", strconv.Itoa(end))
	cur := base64.RawURLEncoding.EncodeToString([]byte(nq.Encode()))
	return [2]int{off, end}, map[string]any{"cursors": map[string]any{"after": cur}}, nil
}

func (s *Server) handleChildren(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	details := queryBool(r, "include_details")
	items := []any{}
	for _, c := range s.st.children(t.ID, queryBool(r, "allow_deleted")) {
		if details {
			items = append(items, s.tenantView(c))
		} else {
			items = append(items, c.ID)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleTenantUsers(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	grand := queryBool(r, "include_grand_children")
	items := []any{}
	for _, u := range s.sortedUsers() {
		if u.DeletedAt != nil {
			continue
		}
		if u.TenantID == t.ID || (grand && s.st.inSubtree(t.ID, u.TenantID)) {
			items = append(items, u.ID)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) pricingView(t *tenant) map[string]any {
	var prod any
	if t.ProductionStart != nil {
		prod = formatTenantTime(*t.ProductionStart)
	}
	return map[string]any{"mode": t.PricingMode, "currency": t.Currency, "version": t.PricingVersion, "production_start_date": prod}
}

func (s *Server) handleGetPricing(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, s.pricingView(t))
}

var currencies = []string{"AUD", "BRL", "CAD", "EUR", "CNY", "GBP", "JPY", "KZT", "NZD", "RUB", "USD", "ZAR"}

func (s *Server) handlePutPricing(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		// production_start_date is echoed back by clients that PUT the GET object.
		e = checkKeys(body, "mode", "currency", "version", "production_start_date")
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	version, ok, e := getInt(body, "version")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if !ok {
		writeHTTPErr(w, badRequest("'version' is a required property"))
		return
	}
	mode, _, e := getString(body, "mode")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	cur, curSet, e := getNullableString(body, "currency")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if cur != nil && !slices.Contains(currencies, *cur) {
		writeHTTPErr(w, badRequest("'currency' has an invalid value"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if version != t.PricingVersion {
		writeHTTPErr(w, versionMismatch(t.ID, version, t.PricingVersion))
		return
	}
	now := s.now().UTC()
	if mode != "" && mode != t.PricingMode {
		switch {
		case mode == "production" && t.PricingMode == "trial", mode == "suspended", mode == "production" && t.PricingMode == "suspended":
		case mode == "trial":
			writeHTTPErr(w, newErr(http.StatusBadRequest, http.StatusBadRequest, "Bad Request",
				"Switching a tenant from production back to trial mode is not allowed."))
			return
		default:
			writeHTTPErr(w, badRequest("'mode' must be one of trial, production, suspended"))
			return
		}
		if mode == "production" && t.ProductionStart == nil {
			t.ProductionStart = &now
		}
		t.PricingMode = mode
	}
	if curSet {
		t.Currency = cur
	}
	t.PricingVersion = max(now.UnixMilli(), t.PricingVersion+1)
	writeJSON(w, http.StatusOK, s.pricingView(t))
}

// deleteEnabledErr is the documented 1006 envelope, byte for byte.
func deleteEnabledErr(id string) *httpErr {
	e := newErr(http.StatusBadRequest, 1006, "It is prohibited to delete a non-disabled tenant.", "")
	e.env.Details = struct {
		Info     string              `json:"info"`
		Addition []map[string]string `json:"addition"`
	}{fmt.Sprintf("It is prohibited to delete a non-disabled tenant %q", id), []map[string]string{{"id": id}}}
	e.env.Context["id"] = id
	return e
}
