package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

func newUserBody(role oapi.Role) oapi.UserCreate {
	return oapi.UserCreate{Email: oapiEmail("u-" + uuid.NewString() + "@example.com"), Name: "New User",
		Password: ptr("long-enough-password"), Role: role}
}

func TestUsersLifecycle(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, me := env.Admin(t)
	ctx := context.Background()

	created, err := admin.CreateUserWithResponse(ctx, nil, newUserBody(oapi.RoleAdmin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	u := created.JSON201
	require.Equal(t, int64(1), u.Version)
	require.NotContains(t, string(created.Body), "password")

	// The new user can log in with the password it was given.
	login, err := env.Client(t, "").CreateTokenWithResponse(ctx, oapi.TokenRequest{Email: u.Email, Password: ptr("long-enough-password")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, login.StatusCode())

	got, err := admin.GetUserWithResponse(ctx, u.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode())
	require.Equal(t, `"1"`, got.HTTPResponse.Header.Get("ETag"))

	dup := newUserBody(oapi.RoleAdmin)
	dup.Email = u.Email
	again, err := admin.CreateUserWithResponse(ctx, nil, dup)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, again.StatusCode())
	require.Equal(t, "email_taken", again.ApplicationproblemJSON409.Code)

	stale, err := admin.UpdateUserWithResponse(ctx, u.Id, &oapi.UpdateUserParams{IfMatch: ptr(`"7"`)}, oapi.UserUpdate{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode())
	require.Equal(t, "version_mismatch", stale.ApplicationproblemJSON412.Code)

	updated, err := admin.UpdateUserWithResponse(ctx, u.Id, &oapi.UpdateUserParams{IfMatch: ptr(`"1"`)}, oapi.UserUpdate{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, updated.StatusCode(), string(updated.Body))
	require.Equal(t, "Renamed", updated.JSON200.Name)
	require.Equal(t, int64(2), updated.JSON200.Version)
	require.Equal(t, `"2"`, updated.HTTPResponse.Header.Get("ETag"))

	self, err := admin.DeleteUserWithResponse(ctx, me.ID, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, self.StatusCode())
	require.Equal(t, "cannot_delete_self", self.ApplicationproblemJSON409.Code)

	staleDel, err := admin.DeleteUserWithResponse(ctx, u.Id, &oapi.DeleteUserParams{IfMatch: ptr("1")})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, staleDel.StatusCode())

	del, err := admin.DeleteUserWithResponse(ctx, u.Id, &oapi.DeleteUserParams{IfMatch: ptr("2")})
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, del.StatusCode())
	gone, err := admin.GetUserWithResponse(ctx, u.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, gone.StatusCode())
	missing, err := admin.UpdateUserWithResponse(ctx, uuid.New(), nil, oapi.UserUpdate{Name: ptr("x")})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
}

func TestUsersListPagesAndFilters(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	partnerID := env.NewPartner(t)
	want := map[uuid.UUID]bool{}
	for range 5 {
		u := env.NewUser(t, auth.RolePartner, &partnerID, nil)
		want[u.ID] = true
	}
	seen := map[uuid.UUID]bool{}
	var cursor *string
	pages := 0
	for {
		res, err := admin.ListUsersWithResponse(ctx, &oapi.ListUsersParams{Limit: ptr(2), Cursor: cursor, PartnerId: &partnerID})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		pages++
		for _, u := range res.JSON200.Data {
			require.False(t, seen[u.Id], "user on two pages")
			seen[u.Id] = true
			require.Equal(t, partnerID, *u.PartnerId)
		}
		if res.JSON200.NextCursor == nil {
			break
		}
		cursor = res.JSON200.NextCursor
	}
	require.Equal(t, want, seen)
	require.Equal(t, 3, pages)

	admins, err := admin.ListUsersWithResponse(ctx, &oapi.ListUsersParams{Role: ptr(oapi.RoleAdmin), Limit: ptr(200)})
	require.NoError(t, err)
	for _, u := range admins.JSON200.Data {
		require.Equal(t, oapi.RoleAdmin, u.Role)
	}
}

func TestPartnerSeesOnlyItsOwnStaff(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	mine, theirs := env.NewPartner(t), env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &mine, nil)))
	colleague := env.NewUser(t, auth.RolePartner, &mine, nil)
	stranger := env.NewUser(t, auth.RolePartner, &theirs, nil)
	adminUser := env.NewUser(t, auth.RoleAdmin, nil, nil)

	list, err := partner.ListUsersWithResponse(ctx, &oapi.ListUsersParams{Limit: ptr(200)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode())
	require.Len(t, list.JSON200.Data, 2)
	for _, u := range list.JSON200.Data {
		require.Equal(t, mine, *u.PartnerId)
	}

	tests := []struct {
		name string
		id   uuid.UUID
		want int
	}{
		{"colleague", colleague.ID, http.StatusOK},
		{"another partner's user", stranger.ID, http.StatusNotFound},
		{"an admin", adminUser.ID, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			get, err := partner.GetUserWithResponse(ctx, tt.id)
			require.NoError(t, err)
			require.Equal(t, tt.want, get.StatusCode())
			patch, err := partner.UpdateUserWithResponse(ctx, tt.id, nil, oapi.UserUpdate{Name: ptr("Changed")})
			require.NoError(t, err)
			require.Equal(t, tt.want, patch.StatusCode())
		})
	}

	// A partner's new staff lands in its own partner.
	body := newUserBody(oapi.RolePartner)
	res, err := partner.CreateUserWithResponse(ctx, nil, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	require.Equal(t, mine, *res.JSON201.PartnerId)

	del, err := partner.DeleteUserWithResponse(ctx, stranger.ID, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, del.StatusCode())
}

func TestUsersNeedAnExistingPartnerOrCustomer(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	tests := []struct {
		name, code, field string
		body              oapi.UserCreate
	}{
		{"unknown partner", "partner_not_found", "partner_id", func() oapi.UserCreate {
			b := newUserBody(oapi.RolePartner)
			b.PartnerId = ptr(uuid.New())
			return b
		}()},
		{"unknown customer", "customer_not_found", "customer_id", func() oapi.UserCreate {
			b := newUserBody(oapi.RoleCustomer)
			b.CustomerId = ptr(uuid.New())
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := admin.CreateUserWithResponse(context.Background(), nil, tt.body)
			require.NoError(t, err)
			p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusUnprocessableEntity, tt.code)
			require.Equal(t, tt.field, p.Errors[0].Field)
		})
	}
}
