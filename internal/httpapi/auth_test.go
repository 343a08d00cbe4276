package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

// sign makes an HS256 token like the platform's, with claims overridden.
func sign(t *testing.T, env *apptest.Env, secret string, over jwt.MapClaims) string {
	t.Helper()
	now := env.Clock.Now()
	c := jwt.MapClaims{
		"iss": env.Cfg.JWTIssuer, "aud": env.Cfg.JWTAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	require.NoError(t, err)
	return s
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	u := env.NewUser(t, auth.RoleAdmin, nil, nil)
	gone := env.NewUser(t, auth.RoleAdmin, nil, nil)
	goneToken := env.Login(t, gone)
	_, _ = env.App.DB.Gorm.Exec("DELETE FROM users WHERE id = ?", gone.ID).Rows()
	secret := env.Cfg.JWTSecret
	now := env.Clock.Now()
	sub := u.ID.String()

	noneToken := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
			"sub": sub, "iss": env.Cfg.JWTIssuer, "aud": env.Cfg.JWTAudience, "exp": now.Add(time.Minute).Unix(),
		}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}()
	tests := []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"not bearer", "Basic dXNlcjpwYXNz"},
		{"empty bearer", "Bearer "},
		{"garbage", "Bearer not-a-token"},
		{"expired", "Bearer " + sign(t, env, secret, jwt.MapClaims{"sub": sub, "exp": now.Add(-time.Minute).Unix()})},
		{"no expiry", "Bearer " + sign(t, env, secret, jwt.MapClaims{"sub": sub, "exp": nil})},
		{"not yet valid", "Bearer " + sign(t, env, secret, jwt.MapClaims{"sub": sub, "nbf": now.Add(time.Hour).Unix()})},
		{"wrong audience", "Bearer " + sign(t, env, secret, jwt.MapClaims{"sub": sub, "aud": "someone-else"})},
		{"wrong issuer", "Bearer " + sign(t, env, secret, jwt.MapClaims{"sub": sub, "iss": "evil"})},
		{"wrong signature", "Bearer " + sign(t, env, "another-secret-that-is-long-enough-0123456789", jwt.MapClaims{"sub": sub})},
		{"alg none", "Bearer " + noneToken},
		{"subject not a uuid", "Bearer " + sign(t, env, secret, jwt.MapClaims{"sub": "admin"})},
		{"deleted user", "Bearer " + goneToken},
		{"unknown api key", "Bearer ak_aaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
		{"malformed api key", "Bearer ak_short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest("GET", env.Server.URL+"/v1/me", nil)
			require.NoError(t, err)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body := readAll(t, res)
			requireProblem(t, res.StatusCode, res.Header, body, http.StatusUnauthorized, "unauthenticated")
			require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
		})
	}

	// The same user with a good token gets in.
	me, err := env.Client(t, sign(t, env, secret, jwt.MapClaims{"sub": sub})).GetMeWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, me.StatusCode())
	require.Equal(t, oapi.PrincipalKindUser, me.JSON200.Kind)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	u := env.NewUser(t, auth.RolePartner, ptr(env.NewPartner(t)), nil)
	c := env.Client(t, "")
	tests := []struct {
		name     string
		email    string
		password string
		want     int
	}{
		{"right password", u.Email, apptest.Password, http.StatusOK},
		{"email in other case", strings.ToUpper(u.Email), apptest.Password, http.StatusOK},
		{"wrong password", u.Email, "wrong-password-1", http.StatusUnauthorized},
		{"unknown email", "nobody-" + uuid.NewString() + "@example.com", apptest.Password, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.CreateTokenWithResponse(context.Background(), oapi.TokenRequest{Email: oapiEmail(tt.email), Password: &tt.password})
			require.NoError(t, err)
			require.Equal(t, tt.want, res.StatusCode(), string(res.Body))
			if tt.want != http.StatusOK {
				require.Equal(t, "invalid_credentials", res.ApplicationproblemJSON401.Code)
				return
			}
			require.Equal(t, oapi.Bearer, res.JSON200.TokenType)
			require.InDelta(t, env.Cfg.JWTTTL.Seconds(), res.JSON200.ExpiresIn, 2)
			me, err := env.Client(t, res.JSON200.AccessToken).GetMeWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode())
			require.Equal(t, u.ID, *me.JSON200.UserId)
			require.Equal(t, oapi.RolePartner, me.JSON200.Role)
			require.Equal(t, *u.PartnerID, *me.JSON200.PartnerId)
			require.NotContains(t, env.Logs.String(), res.JSON200.AccessToken, "tokens are never logged")
		})
	}
	require.NotContains(t, env.Logs.String(), apptest.Password, "passwords are never logged")
}

func TestTokenEndpointIsRateLimited(t *testing.T) {
	t.Parallel()
	env := apptest.New(t) // 5 attempts per email per minute
	u := env.NewUser(t, auth.RoleAdmin, nil, nil)
	c := env.Client(t, "")
	wrong := "wrong-password-1"
	for i := range env.Cfg.AuthRateLimit {
		res, err := c.CreateTokenWithResponse(context.Background(), oapi.TokenRequest{Email: oapiEmail(u.Email), Password: &wrong})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode(), "attempt %d", i+1)
	}
	// Over the limit even the right password is refused.
	res, err := c.CreateTokenWithResponse(context.Background(), oapi.TokenRequest{Email: oapiEmail(u.Email), Password: ptr(apptest.Password)})
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode(), string(res.Body))
	require.Equal(t, "rate_limited", res.ApplicationproblemJSON429.Code)
	require.NotEmpty(t, res.HTTPResponse.Header.Get("Retry-After"))

	// The next window lets the user in again.
	env.Clock.Advance(time.Minute)
	res, err = c.CreateTokenWithResponse(context.Background(), oapi.TokenRequest{Email: oapiEmail(u.Email), Password: ptr(apptest.Password)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
}

func TestForbiddenByRole(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	key, err := admin.CreateApiKeyWithResponse(context.Background(), nil, oapi.ApiKeyCreate{Name: "storefront"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode(), string(key.Body))
	customer := env.Client(t, env.Login(t, env.NewUser(t, auth.RoleCustomer, nil, ptr(env.NewCustomer(t, nil)))))
	partnerID := env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerID, nil)))
	apiKey := env.Client(t, key.JSON201.Secret)

	tests := []struct {
		name string
		call func() (int, []byte)
		code string
	}{
		{"customer lists users", func() (int, []byte) {
			r, err := customer.ListUsersWithResponse(context.Background(), nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "forbidden"},
		{"customer creates api key", func() (int, []byte) {
			r, err := customer.CreateApiKeyWithResponse(context.Background(), nil, oapi.ApiKeyCreate{Name: "x"})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "forbidden"},
		{"api key lists users", func() (int, []byte) {
			r, err := apiKey.ListUsersWithResponse(context.Background(), nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "forbidden"},
		{"api key creates api key", func() (int, []byte) {
			r, err := apiKey.CreateApiKeyWithResponse(context.Background(), nil, oapi.ApiKeyCreate{Name: "x"})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "forbidden"},
		{"partner creates an admin", func() (int, []byte) {
			r, err := partner.CreateUserWithResponse(context.Background(), nil, oapi.UserCreate{
				Email: oapiEmail("x-" + uuid.NewString() + "@example.com"), Name: "X", Password: ptr("long-enough-pass"), Role: oapi.RoleAdmin})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "role_not_allowed"},
		{"partner creates staff of another partner", func() (int, []byte) {
			r, err := partner.CreateUserWithResponse(context.Background(), nil, oapi.UserCreate{
				Email: oapiEmail("x-" + uuid.NewString() + "@example.com"), Name: "X", Password: ptr("long-enough-pass"),
				Role: oapi.RolePartner, PartnerId: ptr(uuid.New())})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "partner_not_allowed"},
		{"partner creates a key for another partner", func() (int, []byte) {
			r, err := partner.CreateApiKeyWithResponse(context.Background(), nil, oapi.ApiKeyCreate{Name: "x", PartnerId: ptr(uuid.New())})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}, "partner_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := tt.call()
			require.Equal(t, http.StatusForbidden, status, string(body))
			var p problem
			require.NoError(t, json.Unmarshal(body, &p))
			require.Equal(t, tt.code, p.Code)
		})
	}
}

// jwks is an identity provider: it publishes keys and signs tokens.
type jwks struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	srv *httptest.Server
}

func newJWKS(t *testing.T) *jwks {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
			"n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
			"x": b64(pad(ek.X.Bytes())), "y": b64(pad(ek.Y.Bytes()))},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &jwks{rsa: rk, ec: ek, srv: srv}
}

func (j *jwks) sign(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	var key any = j.rsa
	tok.Header["kid"] = "rsa-1"
	if method == jwt.SigningMethodES256 {
		key, tok.Header["kid"] = j.ec, "ec-1"
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestExternalIdentityProvider(t *testing.T) {
	t.Parallel()
	idp := newJWKS(t)
	cfg := apptest.Config(t)
	cfg.JWKSURL, cfg.JWKSIssuer, cfg.JWKSAudience = idp.srv.URL, "https://idp.example", "platform"
	env := apptest.Start(t, cfg)
	now := env.Clock.Now()
	partnerID := uuid.New()
	claims := func(over jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://idp.example", "aud": "platform", "sub": "ext-42",
			"exp": now.Add(time.Minute).Unix(), "role": "partner", "partner_id": partnerID.String(), "email": "p@example.com"}
		for k, v := range over {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"RS256 partner", idp.sign(t, jwt.SigningMethodRS256, claims(nil)), http.StatusOK},
		{"ES256 partner", idp.sign(t, jwt.SigningMethodES256, claims(nil)), http.StatusOK},
		{"platform HS256 still accepted", env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil)), http.StatusOK},
		{"wrong issuer", idp.sign(t, jwt.SigningMethodRS256, claims(jwt.MapClaims{"iss": "https://evil.example"})), http.StatusUnauthorized},
		{"wrong audience", idp.sign(t, jwt.SigningMethodRS256, claims(jwt.MapClaims{"aud": "other"})), http.StatusUnauthorized},
		{"expired", idp.sign(t, jwt.SigningMethodRS256, claims(jwt.MapClaims{"exp": now.Add(-time.Hour).Unix()})), http.StatusUnauthorized},
		{"unknown role", idp.sign(t, jwt.SigningMethodRS256, claims(jwt.MapClaims{"role": "root"})), http.StatusUnauthorized},
		{"partner without partner id", idp.sign(t, jwt.SigningMethodRS256, claims(jwt.MapClaims{"partner_id": ""})), http.StatusUnauthorized},
		{"HS256 forged with a public key", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte(idp.rsa.N.Bytes()))
			return s
		}(), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := env.Client(t, tt.token).GetMeWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, tt.want, res.StatusCode(), string(res.Body))
			if tt.want == http.StatusOK && res.JSON200.Kind == oapi.PrincipalKindExternal {
				require.Equal(t, "ext-42", res.JSON200.Subject)
				require.Equal(t, oapi.RolePartner, res.JSON200.Role)
				require.Equal(t, partnerID, *res.JSON200.PartnerId)
			}
		})
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	_, err := io.Copy(&b, res.Body)
	require.NoError(t, err)
	return []byte(b.String())
}

func ptr[T any](v T) *T { return &v }

func oapiEmail(s string) openapi_types.Email { return openapi_types.Email(s) }
