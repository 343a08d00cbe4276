package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/acronis-platform/platform/internal/clock"
)

// TokenConfig configures issuing and checking tokens.
type TokenConfig struct {
	Secret   []byte
	Issuer   string
	Audience string
	TTL      time.Duration

	// External identity provider; disabled when JWKSURL is empty.
	JWKSURL       string
	ExtIssuer     string
	ExtAudience   string
	RoleClaim     string
	PartnerClaim  string
	CustomerClaim string
}

// Tokens issues platform JWTs (HS256) and verifies them and, when
// configured, tokens of an external identity provider (RS256/ES256).
type Tokens struct {
	cfg   TokenConfig
	clk   clock.Clock
	local *jwt.Parser
	ext   *jwt.Parser
	jwks  keyfunc.Keyfunc
}

// NewTokens builds the issuer/verifier. ctx bounds the JWKS refresher.
func NewTokens(ctx context.Context, cfg TokenConfig, clk clock.Clock) (*Tokens, error) {
	t := &Tokens{cfg: cfg, clk: clk}
	t.local = jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(clk.Now),
		jwt.WithLeeway(5*time.Second),
	)
	if cfg.JWKSURL != "" {
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("JWKS_URL: %w", err)
		}
		t.jwks = kf
		t.ext = jwt.NewParser(
			jwt.WithValidMethods([]string{"RS256", "ES256"}),
			jwt.WithIssuer(cfg.ExtIssuer),
			jwt.WithAudience(cfg.ExtAudience),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(clk.Now),
			jwt.WithLeeway(5*time.Second),
		)
	}
	return t, nil
}

// Issue signs a token for a stored user at its token version (tv): a token
// of an older version is refused (see PrincipalOf in internal/user).
func (t *Tokens) Issue(userID uuid.UUID, role Role, version int64) (string, time.Time, error) {
	now := t.clk.Now()
	exp := now.Add(t.cfg.TTL)
	claims := jwt.MapClaims{
		"iss":  t.cfg.Issuer,
		"aud":  t.cfg.Audience,
		"sub":  userID.String(),
		"role": string(role),
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  exp.Unix(),
		"jti":  uuid.NewString(),
		"tv":   version,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.cfg.Secret)
	return s, exp.Truncate(time.Second), err
}

// ErrInvalidToken is returned for every token that does not verify; the
// reason is kept out of responses.
var ErrInvalidToken = errors.New("invalid token")

// Verified is a checked token: either a stored user's (UserID set) or an
// external principal.
type Verified struct {
	UserID uuid.UUID
	// TokenVersion is the user's token version the token was issued at
	// (0 when the token carries none).
	TokenVersion int64
	External     *Principal
}

// Verify checks signature, algorithm, issuer, audience, exp and nbf.
func (t *Tokens) Verify(raw string) (Verified, error) {
	unverified, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if alg, _ := unverified.Header["alg"].(string); alg == "HS256" {
		claims := jwt.MapClaims{}
		if _, err := t.local.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return t.cfg.Secret, nil }); err != nil {
			return Verified{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
		}
		sub, _ := claims.GetSubject()
		id, err := uuid.Parse(sub)
		if err != nil {
			return Verified{}, fmt.Errorf("%w: bad subject", ErrInvalidToken)
		}
		var version int64
		if raw, ok := claims["tv"]; ok {
			f, isNum := raw.(float64)
			if !isNum || f != float64(int64(f)) {
				return Verified{}, fmt.Errorf("%w: bad token version", ErrInvalidToken)
			}
			version = int64(f)
		}
		return Verified{UserID: id, TokenVersion: version}, nil
	}
	if t.ext == nil {
		return Verified{}, fmt.Errorf("%w: algorithm not accepted", ErrInvalidToken)
	}
	claims := jwt.MapClaims{}
	if _, err := t.ext.ParseWithClaims(raw, claims, t.jwks.Keyfunc); err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	p, err := t.externalPrincipal(claims)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return Verified{External: &p}, nil
}

func (t *Tokens) externalPrincipal(c jwt.MapClaims) (Principal, error) {
	sub, _ := c.GetSubject()
	if sub == "" {
		return Principal{}, errors.New("no subject")
	}
	role, _ := c[t.cfg.RoleClaim].(string)
	p := Principal{Kind: KindExternal, Subject: sub, Role: Role(role)}
	p.Email, _ = c["email"].(string)
	p.Name, _ = c["name"].(string)
	var err error
	if p.PartnerID, err = optionalUUID(c, t.cfg.PartnerClaim); err != nil {
		return Principal{}, err
	}
	if p.CustomerID, err = optionalUUID(c, t.cfg.CustomerClaim); err != nil {
		return Principal{}, err
	}
	switch {
	case !p.Role.Valid():
		return Principal{}, errors.New("no valid role claim")
	case p.Role == RolePartner && p.PartnerID == nil:
		return Principal{}, errors.New("partner token without partner id")
	case p.Role == RoleCustomer && p.CustomerID == nil:
		return Principal{}, errors.New("customer token without customer id")
	case p.Role == RoleAdmin:
		p.PartnerID, p.CustomerID = nil, nil
	}
	return p, nil
}

func optionalUUID(c jwt.MapClaims, name string) (*uuid.UUID, error) {
	v, ok := c[name].(string)
	if !ok || v == "" {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("claim %s is not a uuid", name)
	}
	return &id, nil
}
