package httpapi

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
)

// Authenticators resolve credentials to principals.
type Authenticators struct {
	Tokens *auth.Tokens
	// UserByID loads a stored user's principal, refusing a token issued at
	// another token version.
	UserByID func(ctx context.Context, id uuid.UUID, tokenVersion int64) (auth.Principal, error)
	APIKey   func(ctx context.Context, secret string) (auth.Principal, error)
	IsAPIKey func(bearer string) bool
}

var errNoCredentials = errs.Unauthenticated("unauthenticated", "Missing or invalid credentials.")

// authenticate puts the caller in the request context and enforces the
// operation's x-roles.
func authenticate(a Authenticators, op operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			// A public operation open to other roles too takes credentials
			// when given (and refuses bad ones); without them it is anonymous.
			if op.public && (h == "" || len(op.roles) == 1) {
				return next(c)
			}
			scheme, bearer, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(bearer) == "" {
				return errNoCredentials
			}
			p, err := a.resolve(c.Request().Context(), strings.TrimSpace(bearer))
			if err != nil {
				return err
			}
			role := string(p.Role)
			if p.Kind == auth.KindAPIKey {
				role = "api_key"
			}
			if !op.allows(role) {
				return errs.Forbidden("forbidden", "Your role may not do this.")
			}
			c.Set(principalKey, p)
			c.SetRequest(c.Request().WithContext(auth.WithPrincipal(c.Request().Context(), p)))
			return next(c)
		}
	}
}

const principalKey = "principal"

func (a Authenticators) resolve(ctx context.Context, bearer string) (auth.Principal, error) {
	if a.IsAPIKey(bearer) {
		return a.APIKey(ctx, bearer)
	}
	v, err := a.Tokens.Verify(bearer)
	if errors.Is(err, auth.ErrInvalidToken) {
		return auth.Principal{}, errNoCredentials
	}
	if err != nil {
		return auth.Principal{}, errs.Internal(err)
	}
	if v.External != nil {
		return *v.External, nil
	}
	return a.UserByID(ctx, v.UserID, v.TokenVersion)
}

// principal is the caller of an authenticated operation.
func principal(ctx context.Context) auth.Principal {
	p, _ := auth.FromContext(ctx)
	return p
}
