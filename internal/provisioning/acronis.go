package provisioning

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/acronis-platform/platform/internal/acronis"
)

// Acronis implements Module on the vendor's Account Management API.
type Acronis struct {
	c *acronis.Client

	mu     sync.Mutex
	parent string // the API client's tenant, which never changes
}

// NewAcronis wraps a client.
func NewAcronis(c *acronis.Client) *Acronis { return &Acronis{c: c} }

var _ Module = (*Acronis)(nil)

// TestConnection issues a token and reads our API client.
func (a *Acronis) TestConnection(ctx context.Context) error {
	_, err := a.c.WhoAmI(ctx)
	return err
}

// CheckUsername reports whether login is free at the vendor.
func (a *Acronis) CheckUsername(ctx context.Context, login string) (bool, error) {
	return a.c.CheckLogin(ctx, login)
}

// CreateAccount runs the steps in order; each step finds what an earlier
// run did and only does what is missing.
func (a *Acronis) CreateAccount(ctx context.Context, acc Account) (Result, error) {
	if acc.Ref == "" || acc.ParentTenantID == "" || acc.Login == "" || acc.Email == "" {
		return Result{}, errors.New("provisioning: account needs ref, parent tenant, login and email")
	}
	// Check the items before anything is created.
	avail, err := a.c.AvailableForChild(ctx, acc.ParentTenantID, acronis.KindCustomer, acc.Edition)
	if err != nil {
		return Result{}, err
	}
	byName := map[string]acronis.OfferingItem{}
	for _, o := range avail {
		byName[o.Name] = o
	}
	storage := ""
	if acc.Storage != nil {
		name, ok := storageItem(avail, acc.Edition)
		if !ok {
			return Result{}, &ItemsNotAvailableError{Items: []string{"storage (" + acc.Edition + ")"}}
		}
		storage = name
		items := make(map[string]Quota, len(acc.Items)+1)
		for k, v := range acc.Items {
			items[k] = v
		}
		items[name] = *acc.Storage
		acc.Items = items
	}
	var missing []string
	for _, n := range sortedNames(acc.Items) {
		if _, ok := byName[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return Result{}, &ItemsNotAvailableError{Items: missing}
	}

	t, err := a.c.CreateTenant(ctx, acronis.NewTenant{
		Name: TenantName(acc.Name, "svc", acc.Ref), Kind: acronis.KindCustomer, ParentID: acc.ParentTenantID, InternalTag: acc.Ref,
		Contact: &acronis.Contact{Email: acc.Email},
	})
	if err != nil {
		return Result{}, err
	}
	acc.progress(StepTenant, t.ID)
	mode := "trial"
	if !acc.Trial {
		if _, err := a.c.SetProductionMode(ctx, t.ID); err != nil {
			return Result{}, err
		}
		mode = "production"
	}
	acc.progress(StepPricingMode, mode)
	if err := a.setItems(ctx, t.ID, byName, acc.Items); err != nil {
		return Result{}, err
	}
	acc.progress(StepItems, strings.Join(sortedNames(acc.Items), ","))
	u, err := a.ensureAdmin(ctx, t.ID, acc.Login, acc.Email, acc.Password, acronis.RoleCompanyAdmin)
	if err != nil {
		return Result{}, err
	}
	acc.progress(StepUser, u.ID)
	acc.progress(StepPolicies, acronis.RoleCompanyAdmin)
	if acc.ReadOnlyUserID != "" {
		if err := a.grantReadOnly(ctx, acc.ReadOnlyUserID, t.ID); err != nil {
			return Result{}, err
		}
		acc.progress(StepReadOnly, acc.ReadOnlyUserID)
	}
	return Result{TenantID: t.ID, UserID: u.ID, Login: u.Login, StorageItem: storage}, nil
}

// CreateReseller makes the partner tenant under the SP's tenant, enables
// what the SP may give a partner (unlimited; customers get the quotas) and
// creates the partner admin, who sets a password from the activation mail.
// Like CreateAccount, a second run finishes what the first began.
func (a *Acronis) CreateReseller(ctx context.Context, r Reseller) (Result, error) {
	if r.Ref == "" || r.Name == "" || r.Login == "" || r.Email == "" {
		return Result{}, errors.New("provisioning: reseller needs ref, name, login and email")
	}
	sp, err := a.ParentTenant(ctx)
	if err != nil {
		return Result{}, err
	}
	avail, err := a.c.AvailableForChild(ctx, sp, acronis.KindPartner, "")
	if err != nil {
		return Result{}, err
	}
	t, err := a.c.CreateTenant(ctx, acronis.NewTenant{
		Name: TenantName(r.Name, "partner", r.Ref), Kind: acronis.KindPartner, ParentID: sp, InternalTag: r.Ref,
		Contact: &acronis.Contact{Email: r.Email},
	})
	if err != nil {
		return Result{}, err
	}
	byName := map[string]acronis.OfferingItem{}
	want := map[string]Quota{}
	for _, o := range avail {
		byName[o.Name] = o
		want[o.Name] = Quota{}
	}
	if err := a.setItems(ctx, t.ID, byName, want); err != nil {
		return Result{}, err
	}
	u, err := a.ensureAdmin(ctx, t.ID, r.Login, r.Email, "", acronis.RolePartnerAdmin)
	if err != nil {
		return Result{}, err
	}
	return Result{TenantID: t.ID, UserID: u.ID, Login: u.Login}, nil
}

// ensureAdmin finds or creates a tenant's admin user, sets its password (or,
// without one, has the vendor mail an activation link) and its admin role.
func (a *Acronis) ensureAdmin(ctx context.Context, tenantID, login, email, password, role string) (acronis.User, error) {
	u, found, err := a.c.FindUser(ctx, tenantID, login)
	if err != nil {
		return u, err
	}
	if !found {
		if u, err = a.c.CreateUser(ctx, acronis.NewUser{TenantID: tenantID, Login: login,
			Contact: acronis.Contact{Email: email}}); err != nil {
			return u, err
		}
	}
	if password != "" {
		if err := a.c.SetPassword(ctx, u.ID, password); err != nil {
			return u, err
		}
	} else if !u.Activated {
		if err := a.c.SendActivationEmail(ctx, u.ID); err != nil {
			return u, err
		}
	}
	_, err = a.c.SetAccessPolicies(ctx, u.ID, []acronis.Grant{{Role: role, TenantID: tenantID}})
	return u, err
}

// storageItem is the backup storage item of an edition: the infra item
// counted as "storage".
func storageItem(avail []acronis.OfferingItem, edition string) (string, bool) {
	for _, o := range avail {
		if o.UsageName == "storage" && o.Type == "infra" && o.Edition != nil && *o.Edition == edition {
			return o.Name, true
		}
	}
	return "", false
}

// CheckItems reports the requested items (and, with storage, the edition's
// storage item) that the parent tenant cannot give a customer.
func (a *Acronis) CheckItems(ctx context.Context, parentTenantID, edition string, names []string, storage bool) ([]string, error) {
	avail, err := a.c.AvailableForChild(ctx, parentTenantID, acronis.KindCustomer, edition)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, o := range avail {
		have[o.Name] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if _, ok := storageItem(avail, edition); storage && !ok {
		missing = append(missing, "storage ("+edition+")")
	}
	sort.Strings(missing)
	return missing, nil
}

// ParentTenant is the tenant customers go under when no partner sells:
// the API client's own.
func (a *Acronis) ParentTenant(ctx context.Context) (string, error) {
	a.mu.Lock()
	parent := a.parent
	a.mu.Unlock()
	if parent != "" {
		return parent, nil
	}
	me, err := a.c.WhoAmI(ctx)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.parent = me.TenantID
	a.mu.Unlock()
	return me.TenantID, nil
}

// setItems enables the requested items with their quotas and turns off
// every other item the tenant has on.
func (a *Acronis) setItems(ctx context.Context, tenantID string, avail map[string]acronis.OfferingItem, want map[string]Quota) error {
	cur, err := a.c.OfferingItems(ctx, tenantID)
	if err != nil {
		return err
	}
	versions := map[string]int64{}
	var items []acronis.OfferingItem
	for _, o := range cur {
		if o.Quota != nil {
			versions[o.Name] = o.Quota.Version
		}
		if _, keep := want[o.Name]; !keep && o.Enabled() {
			items = append(items, acronis.OfferingItem{ApplicationID: o.ApplicationID, Name: o.Name, InfraID: o.InfraID, Status: 0})
		}
	}
	for _, n := range sortedNames(want) {
		o := avail[n]
		q := want[n]
		items = append(items, acronis.OfferingItem{ApplicationID: o.ApplicationID, Name: n, InfraID: o.InfraID, Status: 1,
			Quota: &acronis.Quota{Value: q.Value, Overage: q.Overage, Version: versions[n]}})
	}
	_, err = a.c.SetOfferingItems(ctx, tenantID, items)
	return err
}

// grantReadOnly adds readonly_admin on tenantID to a user's roles, keeping
// the roles it has. The vendor replaces a user's whole set of policies and
// refuses the set (404) when one names a tenant that is gone; then the
// grants on tenants that no longer exist are dropped and the set is sent
// again, so a partner keeps selling after one of its customers' tenants
// was deleted.
func (a *Acronis) grantReadOnly(ctx context.Context, userID, tenantID string) error {
	cur, err := a.c.AccessPolicies(ctx, userID)
	if err != nil {
		return err
	}
	grants := make([]acronis.Grant, 0, len(cur)+1)
	for _, p := range cur {
		if p.RoleID == acronis.RoleReadonlyAdmin && p.TenantID == tenantID {
			return nil
		}
		grants = append(grants, acronis.Grant{Role: p.RoleID, TenantID: p.TenantID})
	}
	grants = append(grants, acronis.Grant{Role: acronis.RoleReadonlyAdmin, TenantID: tenantID})
	_, err = a.c.SetAccessPolicies(ctx, userID, grants)
	if !acronis.IsStatus(err, http.StatusNotFound) {
		return err
	}
	live, lerr := a.liveGrants(ctx, grants, tenantID)
	if lerr != nil {
		return lerr
	}
	_, err = a.c.SetAccessPolicies(ctx, userID, live)
	return err
}

// liveGrants keeps the grants whose tenant still exists at the vendor
// (keep is known to exist).
func (a *Acronis) liveGrants(ctx context.Context, grants []acronis.Grant, keep string) ([]acronis.Grant, error) {
	exists := map[string]bool{keep: true}
	out := make([]acronis.Grant, 0, len(grants))
	for _, g := range grants {
		ok, seen := exists[g.TenantID]
		if !seen {
			_, err := a.c.GetTenant(ctx, g.TenantID)
			switch {
			case err == nil:
				ok = true
			case acronis.IsStatus(err, http.StatusNotFound):
				ok = false
			default:
				return nil, err
			}
			exists[g.TenantID] = ok
		}
		if ok {
			out = append(out, g)
		}
	}
	return out, nil
}

// RevokeReadOnly removes every policy of a user on tenantID (a partner's
// read-only access to a customer tenant being deleted). A user or a
// policy already gone is done.
func (a *Acronis) RevokeReadOnly(ctx context.Context, userID, tenantID string) error {
	cur, err := a.c.AccessPolicies(ctx, userID)
	if acronis.IsStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	keep := make([]acronis.Grant, 0, len(cur))
	for _, p := range cur {
		if p.TenantID != tenantID {
			keep = append(keep, acronis.Grant{Role: p.RoleID, TenantID: p.TenantID})
		}
	}
	if len(keep) == len(cur) {
		return nil
	}
	_, err = a.c.SetAccessPolicies(ctx, userID, keep)
	if acronis.IsStatus(err, http.StatusNotFound) {
		// Another grant names a tenant that is gone too: drop those as well.
		if keep, err = a.liveGrants(ctx, keep, ""); err != nil {
			return err
		}
		_, err = a.c.SetAccessPolicies(ctx, userID, keep)
	}
	return err
}

// Suspend disables the tenant (every user in it loses access); a tenant
// disabled already is done.
func (a *Acronis) Suspend(ctx context.Context, tenantID string) error {
	return a.setEnabled(ctx, tenantID, false)
}

// Unsuspend enables the tenant again; a tenant enabled already is done.
func (a *Acronis) Unsuspend(ctx context.Context, tenantID string) error {
	return a.setEnabled(ctx, tenantID, true)
}

func (a *Acronis) setEnabled(ctx context.Context, tenantID string, enabled bool) error {
	t, err := a.c.GetTenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if t.Enabled == enabled {
		return nil
	}
	_, err = a.c.SetTenantEnabled(ctx, tenantID, enabled)
	return err
}

// Terminate disables, then deletes the tenant; a tenant already gone is done.
func (a *Acronis) Terminate(ctx context.Context, tenantID string) error {
	return a.c.DeleteTenant(ctx, tenantID)
}

// SetProduction switches a tenant from trial to production pricing; one
// in production already is done.
func (a *Acronis) SetProduction(ctx context.Context, tenantID string) error {
	_, err := a.c.SetProductionMode(ctx, tenantID)
	return err
}

// ChangeQuotas sets the quotas of the named items, leaving the others.
func (a *Acronis) ChangeQuotas(ctx context.Context, tenantID string, items map[string]Quota) error {
	cur, err := a.c.OfferingItems(ctx, tenantID)
	if err != nil {
		return err
	}
	byName := map[string]acronis.OfferingItem{}
	for _, o := range cur {
		byName[o.Name] = o
	}
	var missing []string
	var put []acronis.OfferingItem
	for _, n := range sortedNames(items) {
		o, ok := byName[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		var version int64
		if o.Quota != nil {
			version = o.Quota.Version
		}
		q := items[n]
		put = append(put, acronis.OfferingItem{ApplicationID: o.ApplicationID, Name: n, InfraID: o.InfraID, Status: 1,
			Quota: &acronis.Quota{Value: q.Value, Overage: q.Overage, Version: version}})
	}
	if len(missing) > 0 {
		return &ItemsNotAvailableError{Items: missing}
	}
	_, err = a.c.SetOfferingItems(ctx, tenantID, put)
	return err
}

// ChangePassword sets a user's password at the vendor.
func (a *Acronis) ChangePassword(ctx context.Context, userID, password string) error {
	return a.c.SetPassword(ctx, userID, password)
}

// ChangeLogin renames a user's login at the vendor; a user that has the
// login already is done.
func (a *Acronis) ChangeLogin(ctx context.Context, userID, login string) error {
	u, err := a.c.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if u.Login == login {
		return nil
	}
	_, err = a.c.UpdateUser(ctx, userID, func(u *acronis.UserUpdate) { u.Login = &login })
	return err
}

// SingleSignOn returns a one-time login link for the user into target
// ("/mc/" management portal, "/bc/" protection console).
func (a *Acronis) SingleSignOn(ctx context.Context, login, target string) (string, error) {
	ott, err := a.c.OneTimeToken(ctx, login)
	if err != nil {
		return "", err
	}
	return a.c.ExternalLoginURL(ott, target), nil
}

// Reading is one usage figure of a tenant's offering item.
type Reading struct {
	Item  string
	Value int64
	Unit  string
}

// Usage reads the current usage of several tenants in one call.
func (a *Acronis) Usage(ctx context.Context, tenantIDs []string) (map[string][]Reading, error) {
	raw, err := a.c.TenantsUsage(ctx, tenantIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Reading, len(raw))
	for tenant, us := range raw {
		for _, u := range us {
			out[tenant] = append(out[tenant], Reading{Item: u.Name, Value: u.Value, Unit: u.MeasurementUnit})
		}
	}
	return out, nil
}
