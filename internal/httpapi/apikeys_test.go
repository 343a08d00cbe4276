package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, me := env.Admin(t)
	ctx := context.Background()

	created, err := admin.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "Main storefront"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	k := created.JSON201
	require.True(t, strings.HasPrefix(k.Secret, k.Prefix+"_"))
	require.Equal(t, oapi.KeyRoleAdmin, k.Role)
	require.Equal(t, me.ID, *k.CreatedBy)

	// Stored hashed: the secret is nowhere in the table.
	var stored int64
	require.NoError(t, env.App.DB.Gorm.Raw("SELECT count(*) FROM api_keys WHERE encode(secret_hash, 'escape') LIKE ?", "%"+k.Secret+"%").Scan(&stored).Error)
	require.Zero(t, stored)

	keyClient := env.Client(t, k.Secret)
	who, err := keyClient.GetMeWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, who.StatusCode(), string(who.Body))
	require.Equal(t, oapi.PrincipalKindApiKey, who.JSON200.Kind)
	require.Equal(t, k.Id, *who.JSON200.ApiKeyId)

	list, err := admin.ListApiKeysWithResponse(ctx, &oapi.ListApiKeysParams{Limit: ptr(200)})
	require.NoError(t, err)
	require.NotContains(t, string(list.Body), k.Secret)
	var listed *oapi.ApiKey
	for i := range list.JSON200.Data {
		if list.JSON200.Data[i].Id == k.Id {
			listed = &list.JSON200.Data[i]
		}
	}
	require.NotNil(t, listed)
	require.NotNil(t, listed.LastUsedAt, "last use is kept")

	// A secret with the right prefix but wrong body is refused.
	forged := env.Client(t, k.Prefix+"_"+strings.Repeat("a", 32))
	bad, err := forged.GetMeWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, bad.StatusCode())

	for range 2 { // revoking twice is fine
		rev, err := admin.RevokeApiKeyWithResponse(ctx, k.Id)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, rev.StatusCode())
	}
	after, err := keyClient.GetMeWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, after.StatusCode())

	missing, err := admin.RevokeApiKeyWithResponse(ctx, uuid.New())
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
	require.NotContains(t, env.Logs.String(), k.Secret, "the key is never logged")
}

func TestPartnerKeysAreScoped(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	mine, theirs := env.NewPartner(t), env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &mine, nil)))

	own, err := partner.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "my shop"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, own.StatusCode(), string(own.Body))
	require.Equal(t, oapi.KeyRolePartner, own.JSON201.Role)
	require.Equal(t, mine, *own.JSON201.PartnerId)

	other, err := admin.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "their shop", PartnerId: &theirs})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, other.StatusCode())
	require.Equal(t, theirs, *other.JSON201.PartnerId)

	list, err := partner.ListApiKeysWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.JSON200.Data, 1)
	require.Equal(t, own.JSON201.Id, list.JSON200.Data[0].Id)

	rev, err := partner.RevokeApiKeyWithResponse(ctx, other.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, rev.StatusCode(), "another partner's key is not visible")

	who, err := env.Client(t, own.JSON201.Secret).GetMeWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, mine, *who.JSON200.PartnerId)
	require.Equal(t, oapi.RolePartner, who.JSON200.Role)
}
