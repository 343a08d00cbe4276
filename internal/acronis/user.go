package acronis

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// User is a vendor user.
type User struct {
	ID               string  `json:"id"`
	Version          int64   `json:"version"`
	Login            string  `json:"login"`
	TenantID         string  `json:"tenant_id"`
	PersonalTenantID *string `json:"personal_tenant_id"`
	Enabled          bool    `json:"enabled"`
	Activated        bool    `json:"activated"`
	Contact          Contact `json:"contact"`
}

// NewUser is a user to create (inactive until a password is set or the
// activation mail is used).
type NewUser struct {
	TenantID string  `json:"tenant_id"`
	Login    string  `json:"login"`
	Contact  Contact `json:"contact"`
	Language string  `json:"language,omitempty"`
}

// CheckLogin reports whether login is free at the vendor.
func (c *Client) CheckLogin(ctx context.Context, login string) (bool, error) {
	err := c.do(ctx, call{method: http.MethodGet, path: "/users/check_login", query: url.Values{"username": {login}},
		ok: []int{http.StatusNoContent}, retry: true})
	switch {
	case err == nil:
		return true, nil
	case IsStatus(err, http.StatusConflict):
		return false, nil
	default:
		return false, err
	}
}

// CreateUser creates a user, or returns the one an earlier attempt made
// (found by login in the tenant).
func (c *Client) CreateUser(ctx context.Context, u NewUser) (User, error) {
	if u.TenantID == "" || u.Login == "" || u.Contact.Email == "" {
		return User{}, errors.New("acronis: a new user needs tenant_id, login and contact email")
	}
	return createOnce(ctx, c, func() (User, error) {
		var out User
		err := c.do(ctx, call{method: http.MethodPost, path: "/users", body: u, out: &out})
		return out, err
	}, func() (User, bool, error) {
		return c.FindUser(ctx, u.TenantID, u.Login)
	})
}

// FindUser finds the user with that login in a tenant's subtree.
func (c *Client) FindUser(ctx context.Context, tenantID, login string) (User, bool, error) {
	q := url.Values{"subtree_root_tenant_id": {tenantID}}
	for {
		var page list[User]
		if err := c.do(ctx, call{method: http.MethodGet, path: "/users", query: q, out: &page, retry: true}); err != nil {
			return User{}, false, err
		}
		for _, u := range page.Items {
			if strings.EqualFold(u.Login, login) {
				return u, true, nil
			}
		}
		if page.Paging.Cursors.After == "" {
			return User{}, false, nil
		}
		q = url.Values{"after": {page.Paging.Cursors.After}}
	}
}

// GetUser reads a user.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	var out User
	err := c.do(ctx, call{method: http.MethodGet, path: "/users/" + url.PathEscape(id), out: &out, retry: true})
	return out, err
}

// SetPassword sets a user's password, which also activates it. Setting the
// same password again is harmless, so it is retried.
func (c *Client) SetPassword(ctx context.Context, userID, password string) error {
	return c.do(ctx, call{method: http.MethodPost, path: "/users/" + url.PathEscape(userID) + "/password",
		body: map[string]string{"password": password}, ok: []int{http.StatusNoContent}, retry: true})
}

// SendActivationEmail asks the vendor to mail the user an activation link.
func (c *Client) SendActivationEmail(ctx context.Context, userID string) error {
	return c.do(ctx, call{method: http.MethodPost, path: "/users/" + url.PathEscape(userID) + "/send-activation-email",
		body: map[string]any{}, ok: []int{http.StatusNoContent}, retry: true})
}

// UserUpdate is a PUT body; nil fields are left as they are.
type UserUpdate struct {
	Version int64    `json:"version"`
	Login   *string  `json:"login,omitempty"`
	Contact *Contact `json:"contact,omitempty"`
	Enabled *bool    `json:"enabled,omitempty"`
}

// UpdateUser fetches the user, applies change and puts it back, again on
// a version conflict.
func (c *Client) UpdateUser(ctx context.Context, id string, change func(*UserUpdate)) (User, error) {
	return onConflict(c, func() (User, error) {
		cur, err := c.GetUser(ctx, id)
		if err != nil {
			return User{}, err
		}
		u := UserUpdate{Version: cur.Version}
		change(&u)
		var out User
		err = c.do(ctx, call{method: http.MethodPut, path: "/users/" + url.PathEscape(id), body: u, out: &out, retry: true})
		return out, err
	})
}

// DeleteUser deletes a user; one already gone is not an error.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	for range c.cfg.MaxAttempts {
		u, err := c.GetUser(ctx, id)
		if IsStatus(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		err = c.do(ctx, call{method: http.MethodDelete, path: "/users/" + url.PathEscape(id),
			query: url.Values{"version": {strconv.FormatInt(u.Version, 10)}}, ok: []int{http.StatusNoContent}, retry: true})
		switch {
		case err == nil, IsStatus(err, http.StatusNotFound):
			return nil
		case IsCode(err, CodeVersionMismatch):
			continue
		default:
			return err
		}
	}
	return &Error{Op: "DELETE /users/{id}", Message: "user kept changing; giving up"}
}

// Access policy roles the platform grants.
const (
	RoleCompanyAdmin  = "company_admin"
	RolePartnerAdmin  = "partner_admin"
	RoleReadonlyAdmin = "readonly_admin"
	RoleBackupUser    = "backup_user"
)

// AccessPolicy grants a role on a tenant to a user.
type AccessPolicy struct {
	ID          string `json:"id"`
	IssuerID    string `json:"issuer_id"`
	RoleID      string `json:"role_id"`
	TenantID    string `json:"tenant_id"`
	TrusteeID   string `json:"trustee_id"`
	TrusteeType string `json:"trustee_type"`
	Version     int64  `json:"version"`
}

// Grant is one role on one tenant.
type Grant struct {
	Role     string
	TenantID string
}

const nilUUID = "00000000-0000-0000-0000-000000000000"

// SetAccessPolicies replaces the user's roles with grants.
func (c *Client) SetAccessPolicies(ctx context.Context, userID string, grants []Grant) ([]AccessPolicy, error) {
	items := make([]AccessPolicy, len(grants))
	for i, g := range grants {
		items[i] = AccessPolicy{ID: nilUUID, IssuerID: nilUUID, RoleID: g.Role, TenantID: g.TenantID,
			TrusteeID: userID, TrusteeType: "user"}
	}
	var out list[AccessPolicy]
	err := c.do(ctx, call{method: http.MethodPut, path: "/users/" + url.PathEscape(userID) + "/access_policies",
		body: map[string]any{"items": items}, out: &out, retry: true})
	return out.Items, err
}

// AccessPolicies lists the user's roles.
func (c *Client) AccessPolicies(ctx context.Context, userID string) ([]AccessPolicy, error) {
	var out list[AccessPolicy]
	err := c.do(ctx, call{method: http.MethodGet, path: "/users/" + url.PathEscape(userID) + "/access_policies", out: &out, retry: true})
	return out.Items, err
}

// OneTimeToken asks for a single-use login token for the user with login.
// Retrying is safe: a token lost in transit is simply never used.
func (c *Client) OneTimeToken(ctx context.Context, login string) (string, error) {
	var out struct {
		OTT string `json:"ott"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: "/idp/ott",
		body: map[string]string{"purpose": "user_login", "login": login}, out: &out, retry: true})
	return out.OTT, err
}

// ExternalLoginURL builds the browser link that logs the user in with ott
// and lands on target (e.g. "/mc/" for the management portal).
func (c *Client) ExternalLoginURL(ott, target string) string {
	if target == "" {
		target = "/mc/"
	}
	q := url.Values{"ott": {ott}, "targetURI": {c.base.String() + target}}
	return c.base.String() + "/api/2/idp/external-login?" + q.Encode()
}
