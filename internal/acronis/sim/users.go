package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) sortedUsers() []*user {
	out := make([]*user, 0, len(s.st.users))
	for _, u := range s.st.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *user) int { return a.Seq - b.Seq })
	return out
}

// userView renders the full user object. Caller holds s.mu.
func (s *Server) userView(u *user, withPolicies bool) map[string]any {
	var deleted any
	if u.DeletedAt != nil {
		deleted = formatUserTime(*u.DeletedAt)
	}
	contact := map[string]any{}
	for k, v := range u.Contact {
		contact[k] = v
	}
	v := map[string]any{
		"id":                 u.ID,
		"version":            u.Version,
		"tenant_id":          u.TenantID,
		"login":              u.Login,
		"contact":            contact,
		"activated":          u.Activated,
		"enabled":            u.Enabled,
		"language":           u.Language,
		"idp_id":             u.IDPID,
		"personal_tenant_id": u.PersonalTenantID,
		"business_types":     slices.Clone(u.BusinessTypes),
		"notifications":      slices.Clone(u.Notifications),
		"mfa_status":         "disabled",
		"terms_accepted":     false,
		"created_at":         formatUserTime(u.CreatedAt),
		"updated_at":         formatUserTime(u.UpdatedAt),
		"deleted_at":         deleted,
		// Present in lod=full batch items (item0 requires them, nullable).
		"origin_id":          nil,
		"origin_external_id": nil,
		"disable_after":      nil,
	}
	if u.ExternalID != nil {
		v["external_id"] = *u.ExternalID
	}
	if withPolicies {
		v["access_policies"] = s.policyViews(u)
	}
	return v
}

// userByLogin finds a live user by login (case-insensitive). Caller holds s.mu.
func (s *Server) userByLogin(login string) *user {
	l := lower(strings.TrimSpace(login))
	for _, u := range s.st.users {
		if u.DeletedAt == nil && lower(u.Login) == l {
			return u
		}
	}
	return nil
}

const loginSpecials = ".@_-+:!#$%^*={}'`/?"

// validLogin applies the documented login rules (§6.2).
func validLogin(login string) bool {
	if len(login) < 3 {
		return false
	}
	for _, c := range login {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune(loginSpecials, c):
		default:
			return false
		}
	}
	return true
}

func invalidLogin(login string) *httpErr {
	e := newErr(http.StatusBadRequest, 1033, "Invalid login.", fmt.Sprintf("Login %q is invalid", login))
	e.env.Context["login"] = login
	return e
}

func loginTaken(login string) *httpErr {
	e := newErr(http.StatusConflict, http.StatusConflict, "Conflict", fmt.Sprintf("Login %q is already in use", login))
	e.env.Context["login"] = login
	return e
}

func (s *Server) handleCheckLogin(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	q := r.URL.Query()
	if !q.Has("username") {
		writeHTTPErr(w, badRequest("The 'username' query parameter is required."))
		return
	}
	login := strings.TrimSpace(q.Get("username"))
	if !validLogin(login) {
		writeHTTPErr(w, invalidLogin(login))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByLogin(login) != nil {
		writeHTTPErr(w, loginTaken(login))
		return
	}
	writeNoContent(w)
}

var userPostKeys = []string{"tenant_id", "login", "external_id", "idp_id", "contact", "enabled", "language", "business_types",
	"notifications", "use_existing_identity", "origin_id", "origin_external_id", "disable_after"}

var notificationKinds = []string{"maintenance", "quota", "reports", "backup_error", "backup_warning", "backup_info",
	"backup_daily_report", "backup_critical", "device_control_warning", "certificate_management_error",
	"certificate_management_warning", "certificate_management_info"}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, userPostKeys...)
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	tenantID, _, e := getString(body, "tenant_id")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if tenantID == "" {
		writeHTTPErr(w, badRequest("'tenant_id' is a required property"))
		return
	}
	login, _, e := getString(body, "login")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	login = strings.TrimSpace(login)
	if login == "" {
		writeHTTPErr(w, badRequest("'login' is a required property"))
		return
	}
	if !validLogin(login) {
		writeHTTPErr(w, invalidLogin(login))
		return
	}
	contact, _, e := getObject(body, "contact")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	email, _, _ := getString(contact, "email")
	if strings.TrimSpace(email) == "" {
		writeHTTPErr(w, badRequest("'contact.email' is a required property"))
		return
	}
	u := &user{Login: login, Version: 1, Contact: newUserContact(), Enabled: true, Language: "en", IDPID: defaultIDPID,
		BusinessTypes: []string{}, Notifications: defaultNotifications()}
	mergeContact(u.Contact, contact, false)
	if e := applyUserFields(u, body); e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, tenantID, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if s.userByLogin(login) != nil {
		writeHTTPErr(w, loginTaken(login))
		return
	}
	now := s.now().UTC()
	u.ID, u.TenantID, u.CreatedAt, u.UpdatedAt, u.Seq = s.newID(), t.ID, now, now, s.st.nextSeq()
	if t.Kind == "customer" || t.Kind == "unit" {
		pt := &tenant{ID: s.newID(), ContactID: s.newID(), ParentID: t.ID, Name: login, Kind: "unit", Version: 1, Enabled: true,
			CustomerType: "default", Language: u.Language, Contact: newTenantContact(), AncestralAccess: true,
			DefaultIDP: defaultIDPID, OwnerID: strPtr(u.ID), Personal: true, PricingMode: t.PricingMode,
			PricingVersion: now.UnixMilli(), CreatedAt: now, UpdatedAt: now, Seq: s.st.nextSeq(), Apps: map[string]bool{AppPlatform: true}}
		s.inheritOIs(pt, t, now)
		s.st.add(pt)
		u.PersonalTenantID = &pt.ID
	}
	s.st.users[u.ID] = u
	writeJSON(w, http.StatusOK, s.userView(u, false))
}

// applyUserFields applies the optional fields shared by POST and PUT.
func applyUserFields(u *user, body map[string]any) *httpErr {
	if v, ok, e := getBool(body, "enabled"); e != nil {
		return e
	} else if ok {
		u.Enabled = v
	}
	if v, ok, e := getString(body, "language"); e != nil {
		return e
	} else if ok && v != "" {
		u.Language = v
	}
	if v, ok, e := getNullableString(body, "external_id"); e != nil {
		return e
	} else if ok {
		u.ExternalID = v
	}
	if v, ok, e := getString(body, "idp_id"); e != nil {
		return e
	} else if ok && v != "" {
		u.IDPID = v
	}
	if v, ok, e := getStringList(body, "business_types"); e != nil {
		return e
	} else if ok {
		for _, b := range v {
			if b != "buyer" {
				return badRequest("'business_types' items must be one of [buyer]")
			}
		}
		u.BusinessTypes = v
	}
	if v, ok, e := getStringList(body, "notifications"); e != nil {
		return e
	} else if ok {
		for _, n := range v {
			if !slices.Contains(notificationKinds, n) {
				return badRequest(fmt.Sprintf("'notifications' has an invalid item %q", n))
			}
		}
		u.Notifications = v
	}
	return nil
}

// visibleUser looks a user up within the caller's subtree. Caller holds s.mu.
func (s *Server) visibleUser(p *principal, id string, allowDeleted bool) (*user, *httpErr) {
	u := s.st.users[id]
	if u == nil || (u.DeletedAt != nil && !allowDeleted) {
		return nil, notFound("User", id)
	}
	if !s.st.inSubtree(p.TenantID, u.TenantID) {
		return nil, forbidden(fmt.Sprintf("Access to user %q is denied.", id))
	}
	return u, nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.visibleUser(p, args[0], queryBool(r, "allow_deleted"))
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, s.userView(u, queryBool(r, "with_access_policies")))
}

var userPutKeys = []string{"login", "external_id", "idp_id", "contact", "enabled", "language", "notifications", "version", "disable_after"}

// Keys of a GET user object that a PUT may echo back; they are ignored.
var userReadOnlyKeys = []string{"id", "tenant_id", "activated", "created_at", "updated_at", "deleted_at", "personal_tenant_id",
	"business_types", "mfa_status", "terms_accepted", "origin_id", "origin_external_id", "access_policies"}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, version, e := readVersionedPut(r, append(slices.Clone(userPutKeys), userReadOnlyKeys...))
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.visibleUser(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if version != u.Version {
		writeHTTPErr(w, versionMismatch(u.ID, version, u.Version))
		return
	}
	upd := *u
	upd.Contact = map[string]any{}
	for k, v := range u.Contact {
		upd.Contact[k] = v
	}
	if login, ok, e := getString(body, "login"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok && strings.TrimSpace(login) != u.Login {
		login = strings.TrimSpace(login)
		if !validLogin(login) {
			writeHTTPErr(w, invalidLogin(login))
			return
		}
		if o := s.userByLogin(login); o != nil && o.ID != u.ID {
			writeHTTPErr(w, loginTaken(login))
			return
		}
		upd.Login = login
	}
	if e := applyUserFields(&upd, body); e != nil {
		writeHTTPErr(w, e)
		return
	}
	if c, ok, e := getObject(body, "contact"); e != nil {
		writeHTTPErr(w, e)
		return
	} else if ok {
		mergeContact(upd.Contact, c, false)
	}
	upd.Version = u.Version + 1
	upd.UpdatedAt = s.now().UTC()
	*u = upd
	writeJSON(w, http.StatusOK, s.userView(u, false))
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
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
	u, e := s.visibleUser(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if p.Kind == principalUser && p.UserID == u.ID {
		writeHTTPErr(w, forbidden("A user cannot delete itself."))
		return
	}
	if version != u.Version {
		writeHTTPErr(w, versionMismatch(u.ID, version, u.Version))
		return
	}
	s.deleteUser(u, s.now().UTC())
	writeNoContent(w)
}

// deleteUser soft-deletes a user and its personal tenant. Caller holds s.mu.
func (s *Server) deleteUser(u *user, now time.Time) {
	u.DeletedAt = &now
	u.UpdatedAt = now
	u.Version++
	if u.PersonalTenantID != nil {
		if pt := s.st.tenants[*u.PersonalTenantID]; pt != nil && pt.DeletedAt == nil {
			pt.DeletedAt = &now
			pt.Version++
		}
	}
}

func (s *Server) handleSetPassword(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		// PYSAMP also sends "version"; it is accepted and ignored (§12).
		e = checkKeys(body, "password", "version")
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	pw, _, e := getString(body, "password")
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if pw == "" {
		writeHTTPErr(w, badRequest("'password' is a required property"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.visibleUser(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	u.Password = pw
	u.Activated = true
	u.UpdatedAt = s.now().UTC()
	writeNoContent(w)
}

func (s *Server) handleSendActivation(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	if _, e := readJSONObject(r, true); e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.visibleUser(p, args[0], false); e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeNoContent(w)
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	q, e := resolveCursor(r.URL.Query())
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	allowDeleted, _ := toBool(q.Get("allow_deleted"))
	withPolicies, _ := toBool(q.Get("with_access_policies"))
	uuids := splitList(q.Get("uuids"))
	extIDs := splitList(q.Get("external_ids"))
	tenantID, subtree := q.Get("tenant_id"), q.Get("subtree_root_tenant_id")
	root := p.TenantID
	for _, id := range []string{tenantID, subtree} {
		if id != "" {
			if _, e := s.visibleTenant(p, id, allowDeleted); e != nil {
				writeHTTPErr(w, e)
				return
			}
		}
	}
	if subtree != "" {
		root = subtree
	}
	var out []*user
	for _, u := range s.sortedUsers() {
		switch {
		case u.DeletedAt != nil && !allowDeleted, !s.st.inSubtree(root, u.TenantID):
			continue
		case tenantID != "" && u.TenantID != tenantID:
			continue
		case len(uuids) > 0 && !slices.Contains(uuids, u.ID):
			continue
		case len(extIDs) > 0 && (u.ExternalID == nil || !slices.Contains(extIDs, *u.ExternalID)):
			continue
		case q.Has("login") && lower(u.Login) != lower(strings.TrimSpace(q.Get("login"))):
			continue
		}
		out = append(out, u)
	}
	page, paging, e := paginate(q, len(out), 2000)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	items := []any{}
	for _, u := range out[page[0]:page[1]] {
		v := s.userView(u, true)
		if !withPolicies {
			v["access_policies"] = []any{}
		}
		items = append(items, v)
	}
	resp := map[string]any{"timestamp": formatTenantTime(s.now()), "items": items}
	if paging != nil {
		resp["paging"] = paging
	}
	writeJSON(w, http.StatusOK, resp)
}

var userRoles = []string{"root_admin", "partner_admin", "company_admin", "unit_admin", "readonly_admin", "protection_admin",
	"protection_ro_admin", "restore_operator", "backup_user", "sync_share_admin", "sync_share_user", "sync_share_guest",
	"pds_operator", "pds_support", "notary_admin", "notary_user", "hci_admin", "omnivoice_admin", "omnivoice_user",
	"greathorn_admin", "greathorn_user", "greathorn_analyst", "greathorn_client_manager"}

func (s *Server) policyViews(u *user) []any {
	out := []any{}
	for _, ap := range u.Policies {
		ts := formatTenantTime(ap.CreatedAt)
		out = append(out, map[string]any{
			"id": ap.ID, "version": ap.Version, "created_at": ts, "updated_at": ts, "deleted_at": nil,
			"trustee_id": u.ID, "trustee_type": "user", "issuer_id": ap.IssuerID, "tenant_id": ap.TenantID,
			"role_id": ap.RoleID,
		})
	}
	return out
}

func (s *Server) handleGetPolicies(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.visibleUser(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(s.now()), "items": s.policyViews(u)})
}

func (s *Server) handlePutPolicies(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	body, e := readJSONObject(r, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	raw, ok := body["items"].([]any)
	if !ok {
		writeHTTPErr(w, badRequest("'items' is a required array"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.visibleUser(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	now := s.now().UTC()
	var pols []accessPolicy
	for i, x := range raw {
		m, ok := x.(map[string]any)
		if !ok {
			writeHTTPErr(w, badRequest(fmt.Sprintf("items[%d] must be an object", i)))
			return
		}
		role, _, _ := getString(m, "role_id")
		if !slices.Contains(userRoles, role) {
			writeHTTPErr(w, badRequest(fmt.Sprintf("items[%d]: 'role_id' %q is not a valid role", i, role)))
			return
		}
		tid, _, _ := getString(m, "tenant_id")
		if tid == "" {
			tid = u.TenantID
		}
		if _, e := s.visibleTenant(p, tid, false); e != nil {
			writeHTTPErr(w, e)
			return
		}
		if tt, _, _ := getString(m, "trustee_id"); tt != "" && tt != u.ID {
			writeHTTPErr(w, badRequest(fmt.Sprintf("items[%d]: 'trustee_id' must be the user id", i)))
			return
		}
		ap := accessPolicy{ID: s.newID(), TenantID: tid, RoleID: role, IssuerID: p.TenantID, Version: 1, CreatedAt: now}
		// Keep an existing identical policy (idempotent replays).
		for _, old := range u.Policies {
			if old.TenantID == tid && old.RoleID == role {
				ap = old
			}
		}
		pols = append(pols, ap)
	}
	u.Policies = pols
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": formatTenantTime(now), "items": s.policyViews(u)})
}
