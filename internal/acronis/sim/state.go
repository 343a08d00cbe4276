package sim

import (
	"strings"
	"time"
)

// Well-known application ids (§4).
const (
	AppBackup   = "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb"
	AppPlatform = "7459244f-68f3-3bf4-9f53-5f63ecc1d91f"
	AppFiles    = "dfd85a5f-a464-32ab-81fd-99bcc66a070f"
	AppNotary   = "f9c5744e-bd1a-36b6-b0f0-ecd7483e1796"
	AppPDS      = "b71b2c18-590a-303c-9d5a-8444fbe713ac"
	AppHCI      = "cc29685d-a9ca-3e87-a83d-069f18b588f0"

	defaultIDPID = "11111111-1111-1111-1111-111111111111"
	brandUUID    = "03fa8bf4-28f2-11e7-ba28-cbe99c3c450a"
)

type application struct {
	ID, Name, Type, Path string
	Usages               []string
}

var applications = []application{
	{AppPlatform, "Management Portal", "platform", "/mc/", []string{}},
	{AppBackup, "Cyber Protection", "backup", "/bc/", []string{"storage", "workstations", "servers", "vms", "m365_mailboxes"}},
	{AppFiles, "File Sync & Share", "files_cloud", "/fc/", []string{"seats", "storage"}},
	{AppNotary, "Notary", "notary", "/notary/", []string{"notary_storage", "notarizations", "esignatures"}},
	{AppPDS, "Physical Data Shipping", "physical_data_shipping", "/pds/", []string{"drives_shipped_to_cloud"}},
	{AppHCI, "Cyber Infrastructure", "hci", "/hci/", []string{"hci_storage"}},
}

func findApp(id string) *application {
	for i := range applications {
		if applications[i].ID == id {
			return &applications[i]
		}
	}
	return nil
}

// catalogItem describes one offering item the SP owns.
type catalogItem struct {
	App, Name, Edition, UsageName, Type, Unit string
	Infra                                     bool
}

var catalog = []catalogItem{
	{AppBackup, "pg_base_storage", "pck_per_gigabyte", "storage", "infra", "bytes", true},
	{AppBackup, "pg_base_workstations", "pck_per_gigabyte", "workstations", "count", "quantity", false},
	{AppBackup, "pg_base_servers", "pck_per_gigabyte", "servers", "count", "quantity", false},
	{AppBackup, "pg_base_vms", "pck_per_gigabyte", "vms", "count", "quantity", false},
	{AppBackup, "pw_base_storage", "pck_per_workload", "storage", "infra", "bytes", true},
	{AppBackup, "pw_base_workstations", "pck_per_workload", "workstations", "count", "quantity", false},
	{AppBackup, "pw_base_servers", "pck_per_workload", "servers", "count", "quantity", false},
	{AppBackup, "pw_base_vms", "pck_per_workload", "vms", "count", "quantity", false},
	{AppBackup, "pw_base_m365_mailboxes", "pck_per_workload", "m365_mailboxes", "count", "quantity", false},
	{AppBackup, "storage", "standard", "storage", "infra", "bytes", true},
	{AppBackup, "workstations", "standard", "workstations", "count", "quantity", false},
	{AppBackup, "servers", "standard", "servers", "count", "quantity", false},
	{AppBackup, "vms", "standard", "vms", "count", "quantity", false},
	{AppFiles, "fc_seats", "", "seats", "count", "quantity", false},
	{AppFiles, "fc_storage", "", "storage", "infra", "bytes", true},
	{AppNotary, "notary_storage", "", "notary_storage", "count", "bytes", false},
	{AppNotary, "notarizations", "", "notarizations", "count", "quantity", false},
	{AppNotary, "esignatures", "", "esignatures", "count", "quantity", false},
}

var editions = []string{"pck_per_gigabyte", "pck_per_workload", "standard"}

type offeringItem struct {
	catalogItem
	Status    int
	Locked    bool
	QValue    *int64
	QOverage  *int64
	QVersion  int64
	UpdatedAt time.Time
}

type tenant struct {
	ID, ParentID, Name, Kind string
	ContactID                string
	Version                  int64
	Enabled                  bool
	CustomerType             string
	CustomerID, InternalTag  *string
	Language                 string
	Contact                  map[string]any
	UpdateLock               bool
	UpdateLockOwner          *string
	AncestralAccess          bool
	DefaultIDP               string
	OwnerID                  *string
	Personal                 bool
	PricingMode              string
	ProductionStart          *time.Time
	PricingVersion           int64
	Currency                 *string
	CreatedAt, UpdatedAt     time.Time
	DeletedAt                *time.Time
	Seq                      int
	OIs                      []*offeringItem
	Apps                     map[string]bool
}

type accessPolicy struct {
	ID, TenantID, RoleID, IssuerID string
	Version                        int64
	CreatedAt                      time.Time
}

type user struct {
	ID, TenantID, Login  string
	Version              int64
	Contact              map[string]any
	Activated, Enabled   bool
	Password             string
	Language             string
	ExternalID           *string
	IDPID                string
	PersonalTenantID     *string
	BusinessTypes        []string
	Notifications        []string
	CreatedAt, UpdatedAt time.Time
	DeletedAt            *time.Time
	Seq                  int
	Policies             []accessPolicy
}

type state struct {
	tenants map[string]*tenant
	users   map[string]*user
	seq     int
	usage   map[string][]usageOverride // tenantID + "/" + OI name -> value overrides, in day order
	reports map[string]*report
	clients map[string]*apiClient // API clients created through POST /clients
	kids    map[string][]*tenant  // parent id -> children in creation order, deleted and personal included
}

// add stores a new tenant. A tenant never changes parent, so the children
// index is only ever appended to.
func (st *state) add(t *tenant) {
	st.tenants[t.ID] = t
	if t.ParentID == t.ID {
		return
	}
	if st.kids == nil {
		st.kids = map[string][]*tenant{}
	}
	st.kids[t.ParentID] = append(st.kids[t.ParentID], t)
}

func (st *state) nextSeq() int { st.seq++; return st.seq }

// seed builds the seeded state. Caller holds s.mu or is New.
func (s *Server) seed() *state {
	now := s.now().UTC()
	st := &state{tenants: map[string]*tenant{}, users: map[string]*user{}, usage: map[string][]usageOverride{},
		reports: map[string]*report{}, clients: map[string]*apiClient{}}
	root := &tenant{
		ID: s.rootID, ParentID: s.rootID, Name: "Simulated Root", Kind: "root", Version: 1, Enabled: true,
		CustomerType: "default", Language: "en", Contact: newTenantContact(), AncestralAccess: true,
		DefaultIDP: defaultIDPID, PricingMode: "production", CreatedAt: now, UpdatedAt: now, Seq: st.nextSeq(),
		Apps: map[string]bool{},
	}
	sp := &tenant{
		ID: s.spID, ParentID: s.rootID, Name: "Simulated Service Provider", Kind: "partner", Version: 1, Enabled: true,
		CustomerType: "default", Language: "en", Contact: newTenantContact(), AncestralAccess: true,
		DefaultIDP: defaultIDPID, PricingMode: "production", CreatedAt: now, UpdatedAt: now, Seq: st.nextSeq(),
		Apps: map[string]bool{},
	}
	sp.Contact["email"] = "sp@example.com"
	for _, t := range []*tenant{root, sp} {
		t.ContactID = s.newID()
		for _, c := range catalog {
			t.OIs = append(t.OIs, &offeringItem{catalogItem: c, Status: 1, UpdatedAt: now})
		}
		for _, a := range applications {
			t.Apps[a.ID] = true
		}
		st.add(t)
	}
	admin := &user{
		ID: s.adminID, TenantID: s.spID, Login: s.opts.AdminLogin, Version: 1, Contact: newUserContact(),
		Activated: true, Enabled: true, Password: s.opts.AdminPassword, Language: "en", IDPID: defaultIDPID,
		BusinessTypes: []string{}, Notifications: defaultNotifications(), CreatedAt: now, UpdatedAt: now, Seq: st.nextSeq(),
	}
	admin.Contact["email"] = "sp-admin@example.com"
	admin.Contact["firstname"] = "SP"
	admin.Contact["lastname"] = "Admin"
	admin.Policies = []accessPolicy{{ID: s.newID(), TenantID: s.spID, RoleID: "partner_admin", IssuerID: s.spID, Version: 1, CreatedAt: now}}
	st.users[admin.ID] = admin
	return st
}

func defaultNotifications() []string { return []string{"quota", "reports", "backup_daily_report"} }

var contactFields = []string{"address1", "address2", "city", "country", "email", "firstname", "lastname", "phone", "state", "zipcode"}

// newTenantContact mirrors the documented create response: address fields
// null, names and email empty strings.
func newTenantContact() map[string]any {
	c := map[string]any{}
	for _, f := range contactFields {
		c[f] = nil
	}
	c["firstname"], c["lastname"], c["email"] = "", "", ""
	return c
}

// newUserContact mirrors the documented user create response: empty strings.
func newUserContact() map[string]any {
	c := map[string]any{}
	for _, f := range contactFields {
		c[f] = ""
	}
	return c
}

var contactPutFields = map[string]bool{
	"tenant_id": true, "user_id": true, "types": true, "email": true, "address1": true, "address2": true,
	"country": true, "state": true, "city": true, "zipcode": true, "phone": true, "firstname": true,
	"lastname": true, "title": true, "website": true, "industry": true, "organization_size": true,
	"email_confirmed": true, "aan": true, "language": true, "fax": true,
}

// mergeContact copies known contact fields from in into c. Unknown fields are
// ignored (a contact echoed back from a GET carries id/created_at...).
func mergeContact(c, in map[string]any, nullable bool) {
	for k, v := range in {
		if !contactPutFields[k] || k == "tenant_id" || k == "user_id" {
			continue
		}
		if v == nil && !nullable {
			v = ""
		}
		if k == "email" && v == nil {
			v = ""
		}
		c[k] = v
	}
}

func formatTenantTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }
func formatUserTime(t time.Time) string   { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func (t *tenant) live() bool { return t != nil && t.DeletedAt == nil }

func (t *tenant) oi(name string) *offeringItem {
	for _, o := range t.OIs {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// children returns the live direct children, in creation order.
func (st *state) children(id string, allowDeleted bool) []*tenant {
	var out []*tenant
	for _, t := range st.kids[id] {
		if !t.Personal && (allowDeleted || t.DeletedAt == nil) {
			out = append(out, t)
		}
	}
	sortTenants(out) // a loaded state may list them in any order
	return out
}

// hasChildren reports whether id has a live child.
func (st *state) hasChildren(id string) bool {
	for _, t := range st.kids[id] {
		if !t.Personal && t.DeletedAt == nil {
			return true
		}
	}
	return false
}

// inSubtree reports whether id is root or below it.
func (st *state) inSubtree(root, id string) bool {
	for range 64 {
		if id == root {
			return true
		}
		t := st.tenants[id]
		if t == nil || t.ParentID == t.ID {
			return false
		}
		id = t.ParentID
	}
	return false
}

// enabledChain reports whether the tenant and all its ancestors are enabled.
func (st *state) enabledChain(id string) bool {
	for range 64 {
		t := st.tenants[id]
		if t == nil || !t.live() || !t.Enabled {
			return false
		}
		if t.ParentID == t.ID {
			return true
		}
		id = t.ParentID
	}
	return true
}

func hasEdition(c catalogItem, filter string) bool {
	if c.Edition == "" || filter == "*" {
		return true
	}
	for _, e := range splitList(filter) {
		if e == c.Edition || e == "*" {
			return true
		}
	}
	return false
}

func strPtr(s string) *string { return &s }

func lower(s string) string { return strings.ToLower(s) }
