package acronis_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
)

const (
	clientID     = "platform-client"
	clientSecret = "s3cret-client-secret"
)

// vendor is a simulator on a real HTTP server and a client of it.
type vendor struct {
	sim    *sim.Server
	url    string
	client *acronis.Client
}

func newVendor(t *testing.T) *vendor {
	t.Helper()
	s := sim.New(sim.Options{ClientID: clientID, ClientSecret: clientSecret, AdminLogin: "sp-admin", AdminPassword: "sp-admin-password", Seed: 1})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	return &vendor{sim: s, url: srv.URL, client: newClient(t, srv.URL, clientSecret)}
}

func newClient(t *testing.T, url, secret string) *acronis.Client {
	t.Helper()
	c, err := acronis.New(acronis.Config{BaseURL: url, ClientID: clientID, ClientSecret: secret,
		MaxAttempts: 8, AttemptTimeout: time.Second, BaseBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	return c
}

func (v *vendor) customer(t *testing.T, parent string) acronis.Tenant {
	t.Helper()
	tag := uuid.NewString()
	tn, err := v.client.CreateTenant(context.Background(), acronis.NewTenant{Name: "Customer " + tag[:8], Kind: acronis.KindCustomer, ParentID: parent, InternalTag: tag})
	require.NoError(t, err)
	return tn
}

func TestTokenAndWhoAmI(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	me, err := v.client.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, v.sim.SPTenantID(), me.TenantID)

	_, err = newClient(t, v.url, "wrong-secret-value").WhoAmI(ctx)
	require.Error(t, err)
	require.True(t, acronis.IsStatus(err, http.StatusUnauthorized), err.Error())
	require.NotContains(t, err.Error(), "wrong-secret-value")
	require.NotContains(t, err.Error(), clientSecret)
}

func TestTokenExpiryMidFlowIsInvisible(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	_, err := v.client.WhoAmI(ctx)
	require.NoError(t, err)
	v.sim.Advance(3 * time.Hour) // the vendor's token is dead, the client does not know yet
	me, err := v.client.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, v.sim.SPTenantID(), me.TenantID)
	tokens := 0
	for _, c := range v.sim.Calls() {
		if strings.HasSuffix(c.Path, "/idp/token") {
			tokens++
		}
	}
	require.Equal(t, 2, tokens, "one re-issue after the 401")
}

func TestTenantLifecycle(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	c := v.client
	tn := v.customer(t, v.sim.SPTenantID())
	require.Equal(t, acronis.KindCustomer, tn.Kind)
	require.True(t, tn.Enabled)

	got, err := c.GetTenant(ctx, tn.ID)
	require.NoError(t, err)
	require.Equal(t, tn.ID, got.ID)
	found, ok, err := c.FindChildByTag(ctx, v.sim.SPTenantID(), *tn.InternalTag)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, tn.ID, found.ID)

	p, err := c.GetPricing(ctx, tn.ID)
	require.NoError(t, err)
	require.Equal(t, "trial", p.Mode)
	p, err = c.SetProductionMode(ctx, tn.ID)
	require.NoError(t, err)
	require.Equal(t, "production", p.Mode)
	p, err = c.SetProductionMode(ctx, tn.ID)
	require.NoError(t, err, "already in production is fine")
	require.Equal(t, "production", p.Mode)

	off, err := c.SetTenantEnabled(ctx, tn.ID, false)
	require.NoError(t, err)
	require.False(t, off.Enabled)
	require.Greater(t, off.Version, tn.Version)
	on, err := c.SetTenantEnabled(ctx, tn.ID, true)
	require.NoError(t, err)
	require.True(t, on.Enabled)

	require.NoError(t, c.DeleteTenant(ctx, tn.ID), "an enabled tenant is disabled, then deleted")
	_, err = c.GetTenant(ctx, tn.ID)
	require.True(t, acronis.IsStatus(err, http.StatusNotFound), "%v", err)
	require.NoError(t, c.DeleteTenant(ctx, tn.ID), "deleting again is done already")
}

func TestTenantErrors(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	c := v.client
	existing := v.customer(t, v.sim.SPTenantID())
	tests := []struct {
		name   string
		call   func() error
		status int
		code   int
	}{
		{"unknown tenant", func() error { _, err := c.GetTenant(ctx, uuid.NewString()); return err }, http.StatusNotFound, 0},
		{"update unknown tenant", func() error { _, err := c.SetTenantEnabled(ctx, uuid.NewString(), false); return err }, http.StatusNotFound, 0},
		{"sibling name taken", func() error {
			_, err := c.CreateTenant(ctx, acronis.NewTenant{Name: existing.Name, Kind: acronis.KindCustomer, ParentID: v.sim.SPTenantID(), InternalTag: uuid.NewString()})
			return err
		}, http.StatusConflict, acronis.CodeTenantNameConflict},
		{"parent missing", func() error {
			_, err := c.CreateTenant(ctx, acronis.NewTenant{Name: "Orphan", Kind: acronis.KindCustomer, ParentID: uuid.NewString(), InternalTag: uuid.NewString()})
			return err
		}, 0, 0},
		{"item the parent lacks", func() error {
			_, err := c.SetOfferingItems(ctx, existing.ID, []acronis.OfferingItem{{ApplicationID: acronis.AppBackup, Name: "no_such_item", Status: 1}})
			return err
		}, 0, acronis.CodeOfferingItemMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			require.Error(t, err)
			var ve *acronis.Error
			require.ErrorAs(t, err, &ve)
			require.False(t, ve.Retryable)
			require.GreaterOrEqual(t, ve.Status, 400)
			if tt.status != 0 {
				require.Equal(t, tt.status, ve.Status, err.Error())
			}
			if tt.code != 0 {
				require.Equal(t, tt.code, ve.Code, err.Error())
			}
		})
	}
}

func TestOfferingItemsAndQuotas(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	c := v.client
	avail, err := c.AvailableForChild(ctx, v.sim.SPTenantID(), acronis.KindPartner, "")
	require.NoError(t, err)
	byName := map[string]acronis.OfferingItem{}
	for _, o := range avail {
		byName[o.Name] = o
	}
	storage, ok := byName["pw_base_storage"]
	require.True(t, ok, "the SP offers pw_base_storage")

	tag := uuid.NewString()
	partner, err := c.CreateTenant(ctx, acronis.NewTenant{Name: "Partner " + tag[:8], Kind: acronis.KindPartner, ParentID: v.sim.SPTenantID(), InternalTag: tag})
	require.NoError(t, err)
	gb := int64(1 << 30)
	hundred, ten := 100*gb, 10*gb
	items, err := c.SetOfferingItems(ctx, partner.ID, []acronis.OfferingItem{{ApplicationID: storage.ApplicationID, Name: storage.Name,
		InfraID: storage.InfraID, Status: 1, Quota: &acronis.Quota{Value: &hundred, Overage: &ten}}})
	require.NoError(t, err)
	require.NotEmpty(t, items)

	cur, err := c.OfferingItems(ctx, partner.ID)
	require.NoError(t, err)
	var got *acronis.OfferingItem
	for i := range cur {
		if cur[i].Name == storage.Name {
			got = &cur[i]
		}
	}
	require.NotNil(t, got)
	require.True(t, got.Enabled())
	require.Equal(t, hundred, *got.Quota.Value)

	// A customer of that partner cannot get more than the partner's hard quota.
	cust := v.customer(t, partner.ID)
	tooMuch := 200 * gb
	_, err = c.SetOfferingItems(ctx, cust.ID, []acronis.OfferingItem{{ApplicationID: storage.ApplicationID, Name: storage.Name,
		InfraID: storage.InfraID, Status: 1, Quota: &acronis.Quota{Value: &tooMuch}}})
	require.True(t, acronis.IsCode(err, acronis.CodeHardQuotaExceeded), "%v", err)
	fine := 50 * gb
	_, err = c.SetOfferingItems(ctx, cust.ID, []acronis.OfferingItem{{ApplicationID: storage.ApplicationID, Name: storage.Name,
		InfraID: storage.InfraID, Status: 1, Quota: &acronis.Quota{Value: &fine}}})
	require.NoError(t, err)

	// A stale quota version is read again and the change applied.
	_, err = c.SetOfferingItems(ctx, cust.ID, []acronis.OfferingItem{{ApplicationID: storage.ApplicationID, Name: storage.Name,
		InfraID: storage.InfraID, Status: 1, Quota: &acronis.Quota{Value: &ten, Version: 1}}})
	require.NoError(t, err)

	infra, err := c.TenantInfra(ctx, v.sim.SPTenantID())
	require.NoError(t, err)
	require.NotEmpty(t, infra)
	locs, err := c.TenantLocations(ctx, v.sim.SPTenantID())
	require.NoError(t, err)
	require.NotEmpty(t, locs)
	eds, err := c.Editions(ctx)
	require.NoError(t, err)
	require.Contains(t, eds, "pck_per_workload")
	apps, err := c.Applications(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, apps)
	require.NoError(t, c.BindApplication(ctx, acronis.AppBackup, cust.ID))
}

func TestUsersAndSSO(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	c := v.client
	cust := v.customer(t, v.sim.SPTenantID())
	login := "user-" + uuid.NewString()[:8]

	free, err := c.CheckLogin(ctx, login)
	require.NoError(t, err)
	require.True(t, free)
	u, err := c.CreateUser(ctx, acronis.NewUser{TenantID: cust.ID, Login: login, Contact: acronis.Contact{Email: login + "@example.com"}})
	require.NoError(t, err)
	require.False(t, u.Activated)
	require.NotNil(t, u.PersonalTenantID, "customer users get a personal tenant")
	free, err = c.CheckLogin(ctx, login)
	require.NoError(t, err)
	require.False(t, free)
	_, err = c.CheckLogin(ctx, "a")
	require.True(t, acronis.IsCode(err, acronis.CodeInvalidLogin) || acronis.IsStatus(err, http.StatusNotAcceptable), "%v", err)

	require.NoError(t, c.SetPassword(ctx, u.ID, "A-strong-Passw0rd!"))
	u, err = c.GetUser(ctx, u.ID)
	require.NoError(t, err)
	require.True(t, u.Activated)
	require.NoError(t, c.SendActivationEmail(ctx, u.ID))

	pols, err := c.SetAccessPolicies(ctx, u.ID, []acronis.Grant{{Role: acronis.RoleCompanyAdmin, TenantID: cust.ID}})
	require.NoError(t, err)
	require.Len(t, pols, 1)
	require.Equal(t, acronis.RoleCompanyAdmin, pols[0].RoleID)

	renamed := login + "-renamed"
	u2, err := c.UpdateUser(ctx, u.ID, func(x *acronis.UserUpdate) { x.Login = &renamed })
	require.NoError(t, err)
	require.Equal(t, renamed, u2.Login)
	found, ok, err := c.FindUser(ctx, cust.ID, renamed)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, u.ID, found.ID)

	ott, err := c.OneTimeToken(ctx, renamed)
	require.NoError(t, err)
	link := c.ExternalLoginURL(ott, "/mc/")
	res, err := http.Get(link)
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(page), renamed)
	res, err = http.Get(link)
	require.NoError(t, err)
	res.Body.Close()
	require.NotEqual(t, http.StatusOK, res.StatusCode, "a one-time token works once")

	require.NoError(t, c.DeleteUser(ctx, u.ID))
	_, err = c.GetUser(ctx, u.ID)
	require.True(t, acronis.IsStatus(err, http.StatusNotFound))
	require.NoError(t, c.DeleteUser(ctx, u.ID))

	_, err = c.CreateUser(ctx, acronis.NewUser{TenantID: uuid.NewString(), Login: "x-" + login, Contact: acronis.Contact{Email: "x@example.com"}})
	require.Error(t, err)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	c := v.client
	avail, err := c.AvailableForChild(ctx, v.sim.SPTenantID(), acronis.KindCustomer, "")
	require.NoError(t, err)
	var storage acronis.OfferingItem
	for _, o := range avail {
		if o.Name == "pw_base_storage" {
			storage = o
		}
	}
	a, b := v.customer(t, v.sim.SPTenantID()), v.customer(t, v.sim.SPTenantID())
	for _, tn := range []acronis.Tenant{a, b} {
		_, err := c.SetOfferingItems(ctx, tn.ID, []acronis.OfferingItem{{ApplicationID: storage.ApplicationID, Name: storage.Name, InfraID: storage.InfraID, Status: 1}})
		require.NoError(t, err)
	}
	require.NoError(t, v.sim.SetUsage(a.ID, "pw_base_storage", 12345))

	usages, err := c.TenantUsage(ctx, a.ID)
	require.NoError(t, err)
	found := false
	for _, u := range usages {
		if u.Name == "pw_base_storage" {
			found = true
			require.Equal(t, int64(12345), u.Value)
			require.Equal(t, "bytes", u.MeasurementUnit)
		}
	}
	require.True(t, found)

	batch, err := c.TenantsUsage(ctx, []string{a.ID, b.ID})
	require.NoError(t, err)
	require.Contains(t, batch, a.ID)
	require.Contains(t, batch, b.ID)
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      sim.Fault
		wantStatus int
	}{
		{"server error", sim.Fault{PathPrefix: "/api/2/tenants", Rate: 1, Status: http.StatusInternalServerError}, http.StatusInternalServerError},
		{"unavailable", sim.Fault{PathPrefix: "/api/2/tenants", Rate: 1, Status: http.StatusServiceUnavailable}, http.StatusServiceUnavailable},
		{"rate limited", sim.Fault{PathPrefix: "/api/2/tenants", Rate: 1, Status: http.StatusTooManyRequests}, http.StatusTooManyRequests},
		{"dropped connection", sim.Fault{PathPrefix: "/api/2/tenants", Rate: 1, Drop: true}, 0},
		{"hung request", sim.Fault{PathPrefix: "/api/2/tenants", Rate: 1, Timeout: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t)
			c, err := acronis.New(acronis.Config{BaseURL: v.url, ClientID: clientID, ClientSecret: clientSecret,
				MaxAttempts: 3, AttemptTimeout: 200 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
			require.NoError(t, err)
			v.sim.SetFault(tt.fault)
			_, err = c.GetTenant(context.Background(), v.sim.SPTenantID())
			var ve *acronis.Error
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.wantStatus, ve.Status, err.Error())
			require.True(t, ve.Retryable)
			tries := 0
			for _, call := range v.sim.Calls() {
				if strings.HasPrefix(call.Path, "/api/2/tenants/") {
					tries++
				}
			}
			// Go's transport may itself retry an idempotent request once on a
			// dropped reused connection.
			require.GreaterOrEqual(t, tries, 3, "tried MaxAttempts times")
			require.LessOrEqual(t, tries, 6)

			// Once the fault clears the same call works.
			v.sim.ClearFaults()
			_, err = c.GetTenant(context.Background(), v.sim.SPTenantID())
			require.NoError(t, err)
		})
	}
}

func TestCreateIsNotRepeatedAfterALostAnswer(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	// Every create is applied, then its answer is lost, once.
	v.sim.SetFault(sim.Fault{Method: http.MethodPost, PathPrefix: "/api/2/tenants", Rate: 1, Status: http.StatusBadGateway, AfterEffect: true})
	done := make(chan acronis.Tenant, 1)
	go func() {
		tn, err := v.client.CreateTenant(context.Background(), acronis.NewTenant{Name: "Lost answer", Kind: acronis.KindCustomer, ParentID: v.sim.SPTenantID(), InternalTag: "lost-1"})
		require.NoError(t, err)
		done <- tn
	}()
	tn := <-done
	require.Equal(t, "Lost answer", tn.Name)
	require.Equal(t, 1, v.sim.CountTenants("customer"))
	posts := 0
	for _, c := range v.sim.Calls() {
		if c.Method == http.MethodPost && c.Path == "/api/2/tenants" {
			posts++
		}
	}
	require.Equal(t, 1, posts, "found by internal_tag, not created again")
}

// Lists the client marshals are lists on the wire, never null, even when
// there is nothing in them: the vendor refuses null where it wants a list.
func TestEmptyListsAreSentAsLists(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	ctx := context.Background()
	var mu sync.Mutex
	var bodies []string
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		v.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	c := newClient(t, rec.URL, clientSecret)
	cust := v.customer(t, v.sim.SPTenantID())
	u, err := c.CreateUser(ctx, acronis.NewUser{TenantID: cust.ID, Login: "empty-" + uuid.NewString()[:8], Contact: acronis.Contact{Email: "e@example.com"}})
	require.NoError(t, err)

	_, err = c.SetOfferingItems(ctx, cust.ID, nil)
	require.NoError(t, err)
	_, err = c.SetAccessPolicies(ctx, u.ID, nil)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 2)
	require.JSONEq(t, `{"offering_items":[]}`, bodies[0])
	require.JSONEq(t, `{"items":[]}`, bodies[1])
}

// TestRedirectsElsewhereAreNotFollowed: a datacenter redirecting to another
// host gets neither our credentials nor our token there; the call fails.
func TestRedirectsElsewhereAreNotFollowed(t *testing.T) {
	t.Parallel()
	v := newVendor(t)
	var elsewhere sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Store(r.URL.Path, r.Header.Get("Authorization"))
	}))
	t.Cleanup(other.Close)
	tests := []struct {
		name string
		path string // redirected to the other host
	}{
		{"token request", "/api/2/idp/token"},
		{"api call", "/api/2/clients/" + clientID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == tt.path {
					http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
					return
				}
				r2 := r.Clone(r.Context())
				r2.RequestURI = ""
				u := *r.URL
				u.Scheme, u.Host = "http", strings.TrimPrefix(v.url, "http://")
				r2.URL = &u
				res, err := http.DefaultTransport.RoundTrip(r2)
				if err != nil {
					w.WriteHeader(http.StatusBadGateway)
					return
				}
				defer res.Body.Close()
				for k, vs := range res.Header {
					w.Header()[k] = vs
				}
				w.WriteHeader(res.StatusCode)
				_, _ = io.Copy(w, res.Body)
			}))
			t.Cleanup(front.Close)
			_, err := newClient(t, front.URL, clientSecret).WhoAmI(context.Background())
			require.Error(t, err)
			require.True(t, acronis.IsStatus(err, http.StatusTemporaryRedirect), err)
		})
	}
	t.Cleanup(func() {
		n := 0
		elsewhere.Range(func(any, any) bool { n++; return true })
		require.Zero(t, n, "nothing reached the other host")
	})
}
