package provisioning_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// setupClient is setup with a client of its own, to look at the vendor's
// tenants or make ones the platform did not.
func setupClient(t *testing.T) (*sim.Server, *provisioning.Acronis, *acronis.Client) {
	t.Helper()
	s := sim.New(sim.Options{ClientID: "cid", ClientSecret: "csecret", AdminLogin: "sp-admin", AdminPassword: "sp-admin-password", Seed: 1})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	c, err := acronis.New(acronis.Config{BaseURL: srv.URL, ClientID: "cid", ClientSecret: "csecret",
		MaxAttempts: 5, AttemptTimeout: time.Second, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	return s, provisioning.NewAcronis(c), c
}

func TestTenantName(t *testing.T) {
	t.Parallel()
	ref := "1a2b3c4d-5e6f-4711-8899-aabbccddeeff"
	require.Equal(t, "Acme Ltd (svc 1a2b3c4d)", provisioning.TenantName("Acme Ltd", "svc", ref))
	require.Equal(t, "Acme Ltd (svc 1a2b3c4d)", provisioning.TenantName("  Acme \t Ltd ", "svc", ref), "spaces tidied")
	require.Equal(t, provisioning.TenantName("Acme Ltd", "svc", ref), provisioning.TenantName("Acme Ltd", "svc", ref), "stable")
	require.NotEqual(t, provisioning.TenantName("Acme Ltd", "svc", ref), provisioning.TenantName("Acme Ltd", "svc", uuid.NewString()))
	require.Equal(t, "Reseller (partner 1a2b3c4d)", provisioning.TenantName("Reseller", "partner", ref))

	long := provisioning.TenantName(strings.Repeat("Ä", 300), "svc", ref)
	require.Equal(t, provisioning.MaxTenantName, utf8.RuneCountInString(long), "cut to the limit in characters")
	require.True(t, utf8.ValidString(long))
	require.True(t, strings.HasSuffix(long, " (svc 1a2b3c4d)"), "the reference is never cut")
}

// A customer may hold any number of services: each gets a tenant of its own
// under the same parent, though the customer's name is the same.
func TestOneCustomerManyAccounts(t *testing.T) {
	t.Parallel()
	s, m, c := setupClient(t)
	ctx := context.Background()
	var tenants []string
	for range 3 {
		acc := account(s)
		acc.Name = "Acme Ltd"
		res, err := m.CreateAccount(ctx, acc)
		require.NoError(t, err)
		got, err := c.GetTenant(ctx, res.TenantID)
		require.NoError(t, err)
		require.Equal(t, provisioning.TenantName("Acme Ltd", "svc", acc.Ref), got.Name)
		tenants = append(tenants, res.TenantID)
	}
	require.Len(t, tenants, 3)
	require.Equal(t, 3, s.CountTenants("customer"))
}

// A name held by a tenant the platform did not make is reported, readably;
// once it is gone, the next run finishes.
func TestCreateAccountNameTakenByForeignTenant(t *testing.T) {
	t.Parallel()
	s, m, c := setupClient(t)
	ctx := context.Background()
	acc := account(s)
	name := provisioning.TenantName(acc.Name, "svc", acc.Ref)
	foreign, err := c.CreateTenant(ctx, acronis.NewTenant{Name: name, Kind: acronis.KindCustomer, ParentID: s.SPTenantID(), InternalTag: "made-by-hand"})
	require.NoError(t, err)

	_, err = m.CreateAccount(ctx, acc)
	var taken *acronis.TenantNameTakenError
	require.True(t, errors.As(err, &taken), "%v", err)
	require.Equal(t, name, taken.Name)
	require.Contains(t, err.Error(), `already has a tenant named "`+name+`"`)
	require.True(t, acronis.IsCode(err, acronis.CodeTenantNameConflict))
	var ve *acronis.Error
	require.True(t, errors.As(err, &ve))
	require.False(t, ve.Retryable, "another try cannot fix it")
	require.Equal(t, 1, s.CountTenants("customer"), "nothing more was made")

	require.NoError(t, c.DeleteTenant(ctx, foreign.ID))
	res, err := m.CreateAccount(ctx, acc)
	require.NoError(t, err)
	require.NotEqual(t, foreign.ID, res.TenantID)
}

// A partner renamed on the platform keeps its vendor tenant's name; a new
// partner taking the old name still gets a tenant.
func TestResellersOfOneNameGetTenantsOfTheirOwn(t *testing.T) {
	t.Parallel()
	s, m, _ := setupClient(t)
	ctx := context.Background()
	for i := range 2 {
		login := "partner-" + uuid.NewString()[:8]
		_, err := m.CreateReseller(ctx, provisioning.Reseller{Ref: uuid.NewString(), Name: "Reseller One", Email: login + "@example.com", Login: login})
		require.NoError(t, err, "partner %d", i)
	}
	require.Equal(t, 3, s.CountTenants("partner"), "the SP's and two partners'")
}

// The smallest plan: no storage, no items. Every item the tenant was born
// with is switched off, and the list sent is empty, never null.
func TestCreateAccountWithNothingEnabled(t *testing.T) {
	t.Parallel()
	s, m, c := setupClient(t)
	ctx := context.Background()
	acc := account(s)
	acc.Items = nil
	res, err := m.CreateAccount(ctx, acc)
	require.NoError(t, err)
	items, err := c.OfferingItems(ctx, res.TenantID)
	require.NoError(t, err)
	for _, o := range items {
		require.False(t, o.Enabled(), o.Name)
	}
}
