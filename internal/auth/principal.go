// Package auth knows who is calling: principals, password hashes and tokens.
package auth

import (
	"context"

	"github.com/google/uuid"
)

// Role is what a caller may do.
type Role string

const (
	RoleAdmin    Role = "admin"
	RolePartner  Role = "partner"
	RoleCustomer Role = "customer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RolePartner || r == RoleCustomer }

// Kind is how a caller authenticated.
type Kind string

const (
	KindUser     Kind = "user"     // platform JWT of a stored user
	KindAPIKey   Kind = "api_key"  // server-to-server key
	KindExternal Kind = "external" // identity provider token (JWKS)
)

// Principal is the authenticated caller. Partner and customer principals
// carry the id every query they make is scoped by.
type Principal struct {
	Kind       Kind
	Subject    string
	UserID     *uuid.UUID
	APIKeyID   *uuid.UUID
	Email      string
	Name       string
	Role       Role
	PartnerID  *uuid.UUID
	CustomerID *uuid.UUID
}

// Scope identifies the principal for per-caller state such as idempotency keys.
func (p Principal) Scope() string { return string(p.Kind) + ":" + p.Subject }

// IsAdmin reports whether the caller acts for the service provider.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request, if authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
