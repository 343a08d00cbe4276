package apptest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// NewPartner stores an active partner as if its vendor account existed, for
// tests about something else (the vendor flow has its own tests).
func (e *Env) NewPartner(t testing.TB) uuid.UUID {
	t.Helper()
	id := uuid.New()
	now := e.Clock.Now()
	tenant := "tenant-" + id.String()
	err := e.App.DB.Gorm.Create(&partner.Partner{ID: id, Name: "Partner " + id.String()[:8], Email: id.String() + "@partner.example",
		VendorLogin: "p-" + id.String(), Status: partner.StatusActive, VendorTenantID: &tenant, Version: 1,
		CreatedAt: now, UpdatedAt: now}).Error
	require.NoError(t, err)
	require.NoError(t, e.App.Catalog.EnsurePartnerOrderURLs(e.App.DB.Gorm, id))
	return id
}

// NewCustomer stores a customer of the SP (partnerID nil) or of a partner.
func (e *Env) NewCustomer(t testing.TB, partnerID *uuid.UUID) uuid.UUID {
	t.Helper()
	c, err := e.App.Customers.Create(context.Background(), auth.Principal{Role: auth.RoleAdmin}, customer.CreateInput{
		PartnerID: partnerID, Name: "Customer", Email: uuid.NewString() + "@customer.example",
	})
	require.NoError(t, err)
	return c.ID
}

// PartnerUser makes a partner (when partnerID is nil) and a logged-in user of it.
func (e *Env) PartnerUser(t testing.TB, partnerID *uuid.UUID) (uuid.UUID, string) {
	t.Helper()
	if partnerID == nil {
		id := e.NewPartner(t)
		partnerID = &id
	}
	return *partnerID, e.Login(t, e.NewUser(t, auth.RolePartner, partnerID, nil))
}

// CustomerUser makes a customer (when customerID is nil) and a logged-in user of it.
func (e *Env) CustomerUser(t testing.TB, customerID *uuid.UUID) (uuid.UUID, string) {
	t.Helper()
	if customerID == nil {
		id := e.NewCustomer(t, nil)
		customerID = &id
	}
	return *customerID, e.Login(t, e.NewUser(t, auth.RoleCustomer, nil, customerID))
}

// Vendor is a simulated vendor for one test.
type Vendor struct {
	*sim.Server
	URL string
}

// StartVendor runs a vendor simulator for the test.
func StartVendor(t testing.TB) *Vendor {
	t.Helper()
	s := sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", AdminLogin: "sp-admin", AdminPassword: "sp-admin-password", Seed: 1})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	return &Vendor{Server: s, URL: srv.URL}
}

// WithJobs runs a platform with background jobs against a vendor simulator,
// on a database of its own (so no other test's instance works its jobs).
func WithJobs(t testing.TB, change ...func(*config.Config)) (*Env, *Vendor) {
	t.Helper()
	v := StartVendor(t)
	cfg := Config(t)
	for _, c := range change {
		c(&cfg)
	}
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = v.URL, "sp-client", "sp-secret"
	env := Start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, env.App.Jobs.Start(ctx))
	t.Cleanup(func() {
		cancel()
		_ = env.App.Jobs.Stop(context.Background())
	})
	return env, v
}

// AdminPrincipal acts as an admin in direct service calls.
var AdminPrincipal = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "test"}
