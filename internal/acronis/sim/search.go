package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// handleSearch is GET /search?tenant=&text=&limit=&allow_deleted: tenants and
// users at or below tenant whose name (tenants) or login, email, first or last
// name (users) contain text, case-insensitively; tenants first, each in
// creation order, at most limit (default 10).
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	q := r.URL.Query()
	root, text := q.Get("tenant"), strings.TrimSpace(q.Get("text"))
	switch {
	case root == "":
		writeHTTPErr(w, badRequest("The 'tenant' query parameter is required."))
		return
	case !q.Has("text"):
		writeHTTPErr(w, badRequest("The 'text' query parameter is required."))
		return
	}
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeHTTPErr(w, badRequest("'limit' must be a positive integer"))
			return
		}
		limit = n
	}
	deleted := queryBool(r, "allow_deleted")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.visibleTenant(p, root, false); e != nil {
		writeHTTPErr(w, e)
		return
	}
	needle := lower(text)
	has := func(vals ...any) bool {
		for _, v := range vals {
			if str, ok := v.(string); ok && needle != "" && strings.Contains(lower(str), needle) {
				return true
			}
		}
		return false
	}
	items := []any{}
	var ts []*tenant
	for _, t := range s.st.tenants {
		if t.ID != root && !t.Personal && (deleted || t.DeletedAt == nil) && s.st.inSubtree(root, t.ID) &&
			(has(t.Name) || lower(t.ID) == needle) {
			ts = append(ts, t)
		}
	}
	sortTenants(ts)
	for _, t := range ts {
		if len(items) == limit {
			break
		}
		items = append(items, s.searchItem("tenant", t.ID, t.ParentID, t.DeletedAt != nil, map[string]any{
			"kind": t.Kind, "name": t.Name}))
	}
	for _, u := range s.sortedUsers() {
		if len(items) == limit {
			break
		}
		if (!deleted && u.DeletedAt != nil) || !s.st.inSubtree(root, u.TenantID) ||
			!(has(u.Login, u.Contact["email"], u.Contact["firstname"], u.Contact["lastname"]) || lower(u.ID) == needle) {
			continue
		}
		name := strings.TrimSpace(fmt.Sprint(u.Contact["firstname"], " ", u.Contact["lastname"]))
		items = append(items, s.searchItem("user", u.ID, u.TenantID, u.DeletedAt != nil, map[string]any{
			"login": u.Login, "name": name, "first_name": u.Contact["firstname"], "last_name": u.Contact["lastname"]}))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// searchItem builds a global_search item; path is the names of the tenants
// from the top of the hierarchy down to the object's parent.
func (s *Server) searchItem(kind, id, parent string, deleted bool, extra map[string]any) map[string]any {
	var path []string
	for id := parent; ; {
		t := s.st.tenants[id]
		if t == nil {
			break
		}
		path = append(path, t.Name)
		if t.ParentID == t.ID {
			break
		}
		id = t.ParentID
	}
	slices.Reverse(path)
	v := map[string]any{"obj_type": kind, "id": id, "parent_id": parent, "path": path}
	for k, x := range extra {
		v[k] = x
	}
	if !deleted {
		v["deleted_at"] = nil
	} else if t := s.st.tenants[id]; t != nil && t.DeletedAt != nil {
		v["deleted_at"] = formatTenantTime(*t.DeletedAt)
	} else if u := s.st.users[id]; u != nil && u.DeletedAt != nil {
		v["deleted_at"] = formatUserTime(*u.DeletedAt)
	}
	return v
}
