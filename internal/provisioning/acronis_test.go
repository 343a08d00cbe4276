package provisioning_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/provisioning"
)

func setup(t *testing.T, seed int64) (*sim.Server, *provisioning.Acronis) {
	return setupTB(t, seed)
}

func setupB(b *testing.B) (*sim.Server, *provisioning.Acronis) { return setupTB(b, 1) }

func setupTB(t testing.TB, seed int64) (*sim.Server, *provisioning.Acronis) {
	t.Helper()
	s := sim.New(sim.Options{ClientID: "cid", ClientSecret: "csecret", AdminLogin: "sp-admin", AdminPassword: "sp-admin-password", Seed: seed})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	c, err := acronis.New(acronis.Config{BaseURL: srv.URL, ClientID: "cid", ClientSecret: "csecret",
		MaxAttempts: 10, AttemptTimeout: 300 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	return s, provisioning.NewAcronis(c)
}

func gb(n int64) *int64 { v := n << 30; return &v }
func n(v int64) *int64  { return &v }

func account(s *sim.Server) provisioning.Account {
	login := "cust-" + uuid.NewString()[:8]
	return provisioning.Account{
		Ref: uuid.NewString(), ParentTenantID: s.SPTenantID(), Name: "Customer " + login,
		Email: login + "@example.com", Login: login, Password: "A-strong-Passw0rd!",
		Items: map[string]provisioning.Quota{
			"pw_base_storage":      {Value: gb(50), Overage: gb(5)},
			"pw_base_workstations": {Value: n(3)},
		},
	}
}

func TestCreateAccountThroughFaults(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{1, 2, 3} {
		t.Run("seed "+string(rune('0'+seed)), func(t *testing.T) {
			t.Parallel()
			s, m := setup(t, seed)
			usersBefore := s.CountUsers()
			// About 30% of vendor calls fail, in every way a network can.
			for _, f := range []sim.Fault{
				{Rate: 0.08, Status: http.StatusInternalServerError},
				{Rate: 0.05, Status: http.StatusServiceUnavailable},
				{Rate: 0.04, Status: http.StatusTooManyRequests},
				{Rate: 0.05, Timeout: true},
				{Rate: 0.04, Drop: true},
				{Rate: 0.05, Status: http.StatusInternalServerError, AfterEffect: true},
			} {
				s.SetFault(f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const accounts = 3
			var acc provisioning.Account
			var res provisioning.Result
			for range accounts {
				acc = account(s)
				var err error
				res, err = m.CreateAccount(ctx, acc)
				if err != nil {
					for _, c := range s.Calls() {
						t.Log(c.Method, c.Path, c.Status)
					}
				}
				require.NoError(t, err)
			}
			require.Equal(t, accounts, s.CountTenants("customer"), "exactly one tenant per account")
			require.Equal(t, usersBefore+accounts, s.CountUsers(), "exactly one user per account")

			failed := 0
			for _, c := range s.Calls() {
				if c.Status >= 500 || c.Status == 429 || c.Status == 0 {
					failed++
				}
			}
			require.Positive(t, failed, "faults were injected")

			// Running it again finishes nothing new and changes nothing.
			again, err := m.CreateAccount(ctx, acc)
			require.NoError(t, err)
			require.Equal(t, res, again)
			require.Equal(t, accounts, s.CountTenants("customer"))
			require.Equal(t, usersBefore+accounts, s.CountUsers())
		})
	}
}

func TestCreateAccountRefusesItemsTheParentLacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spItems []string // what the SP has enabled; nil = the whole catalog
		extra   string
		missing []string
	}{
		{"item unknown to the vendor", nil, "made_up_item", []string{"made_up_item"}},
		{"item the SP has switched off", []string{"pw_base_storage"}, "", []string{"pw_base_workstations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, m := setup(t, 1)
			if tt.spItems != nil {
				require.NoError(t, s.SetSPOfferingItems(tt.spItems))
			}
			acc := account(s)
			if tt.extra != "" {
				acc.Items[tt.extra] = provisioning.Quota{Value: n(1)}
			}
			_, err := m.CreateAccount(context.Background(), acc)
			var na *provisioning.ItemsNotAvailableError
			require.True(t, errors.As(err, &na), "%v", err)
			require.Equal(t, tt.missing, na.Items)
			require.Zero(t, s.CountTenants("customer"), "nothing is created")
		})
	}
}

func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	s, m := setup(t, 1)
	ctx := context.Background()
	require.NoError(t, m.TestConnection(ctx))
	acc := account(s)
	free, err := m.CheckUsername(ctx, acc.Login)
	require.NoError(t, err)
	require.True(t, free)
	res, err := m.CreateAccount(ctx, acc)
	require.NoError(t, err)
	free, err = m.CheckUsername(ctx, acc.Login)
	require.NoError(t, err)
	require.False(t, free)

	require.NoError(t, m.ChangeQuotas(ctx, res.TenantID, map[string]provisioning.Quota{"pw_base_storage": {Value: gb(100), Overage: gb(10)}}))
	var missing *provisioning.ItemsNotAvailableError
	require.ErrorAs(t, m.ChangeQuotas(ctx, res.TenantID, map[string]provisioning.Quota{"made_up_item": {Value: n(1)}}), &missing)

	for range 2 { // each is idempotent
		require.NoError(t, m.Suspend(ctx, res.TenantID))
	}
	require.NoError(t, m.Unsuspend(ctx, res.TenantID))
	require.NoError(t, m.ChangePassword(ctx, res.UserID, "Another-Passw0rd!"))
	require.NoError(t, m.ChangeLogin(ctx, res.UserID, acc.Login+"-new"))

	link, err := m.SingleSignOn(ctx, acc.Login+"-new", "/bc/")
	require.NoError(t, err)
	require.True(t, strings.Contains(link, "/api/2/idp/external-login?ott="), link)

	for range 2 {
		require.NoError(t, m.Terminate(ctx, res.TenantID))
	}
	require.Zero(t, s.CountTenants("customer"))
}

func TestCreateResellerThroughFaults(t *testing.T) {
	t.Parallel()
	s, m := setup(t, 7)
	for _, f := range []sim.Fault{
		{Rate: 0.1, Status: http.StatusInternalServerError},
		{Rate: 0.05, Timeout: true},
		{Rate: 0.1, Status: http.StatusInternalServerError, AfterEffect: true},
	} {
		s.SetFault(f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	login := "partner-" + uuid.NewString()[:8]
	r := provisioning.Reseller{Ref: uuid.NewString(), Name: "Reseller " + login, Email: login + "@example.com", Login: login}
	usersBefore, partnersBefore := s.CountUsers(), s.CountTenants("partner")
	res, err := m.CreateReseller(ctx, r)
	require.NoError(t, err)
	require.Equal(t, login, res.Login)
	again, err := m.CreateReseller(ctx, r)
	require.NoError(t, err)
	require.Equal(t, res, again, "a second run finds what the first made")
	require.Equal(t, partnersBefore+1, s.CountTenants("partner"), "the SP's tenant is a partner too")
	require.Equal(t, usersBefore+1, s.CountUsers())

	// The partner's customers live under the partner's tenant, with items
	// the partner was given.
	s.ClearFaults()
	acc := account(s)
	acc.ParentTenantID = res.TenantID
	acc.ReadOnlyUserID = res.UserID
	cust, err := m.CreateAccount(ctx, acc)
	require.NoError(t, err)
	require.NotEqual(t, res.TenantID, cust.TenantID)
	require.Equal(t, 1, s.CountTenants("customer"))
}

func TestCreateResellerRefusesBadInput(t *testing.T) {
	t.Parallel()
	_, m := setup(t, 1)
	_, err := m.CreateReseller(context.Background(), provisioning.Reseller{Name: "no ref"})
	require.Error(t, err)
}
