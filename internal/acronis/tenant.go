package acronis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Tenant kinds used by the platform.
const (
	KindPartner  = "partner"
	KindCustomer = "customer"
)

// Contact is a tenant's or user's contact.
type Contact struct {
	Email     string `json:"email,omitempty"`
	FirstName string `json:"firstname,omitempty"`
	LastName  string `json:"lastname,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Address1  string `json:"address1,omitempty"`
	City      string `json:"city,omitempty"`
	Country   string `json:"country,omitempty"`
	ZipCode   string `json:"zipcode,omitempty"`
}

// Tenant is a vendor tenant.
type Tenant struct {
	ID          string  `json:"id"`
	Version     int64   `json:"version"`
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	ParentID    string  `json:"parent_id"`
	Enabled     bool    `json:"enabled"`
	CustomerID  *string `json:"customer_id"`
	InternalTag *string `json:"internal_tag"`
	Language    string  `json:"language"`
	PricingMode string  `json:"pricing_mode,omitempty"`
	HasChildren bool    `json:"has_children"`
}

// NewTenant is a tenant to create. InternalTag is required: it is how a
// create whose answer was lost is found again instead of repeated.
type NewTenant struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	ParentID    string   `json:"parent_id"`
	InternalTag string   `json:"internal_tag"`
	CustomerID  string   `json:"customer_id,omitempty"`
	Language    string   `json:"language,omitempty"`
	Contact     *Contact `json:"contact,omitempty"`
}

type list[T any] struct {
	Items  []T `json:"items"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
	} `json:"paging"`
}

// CreateTenant creates a tenant, or returns the one an earlier attempt made.
func (c *Client) CreateTenant(ctx context.Context, t NewTenant) (Tenant, error) {
	if t.InternalTag == "" || t.ParentID == "" || t.Name == "" || t.Kind == "" {
		return Tenant{}, errors.New("acronis: a new tenant needs name, kind, parent_id and internal_tag")
	}
	out, err := createOnce(ctx, c, func() (Tenant, error) {
		var out Tenant
		err := c.do(ctx, call{method: http.MethodPost, path: "/tenants", body: t, out: &out, ok: []int{http.StatusCreated}})
		return out, err
	}, func() (Tenant, bool, error) {
		return c.FindChildByTag(ctx, t.ParentID, t.InternalTag)
	})
	if IsCode(err, CodeTenantNameConflict) {
		// createOnce looked for our own tenant (by internal_tag) first:
		// what holds the name is someone else's.
		return Tenant{}, &TenantNameTakenError{Name: t.Name, ParentID: t.ParentID, Err: err}
	}
	return out, err
}

// TenantNameTakenError is a create refused because another tenant, not the
// one with our internal_tag, holds the name under the same parent (1004).
// Another try cannot fix it; someone has to rename or remove that tenant.
type TenantNameTakenError struct {
	Name     string
	ParentID string
	Err      error
}

func (e *TenantNameTakenError) Error() string {
	return fmt.Sprintf("the vendor already has a tenant named %q under parent tenant %s that this platform did not make; "+
		"rename or remove that tenant at the vendor, then retry", e.Name, e.ParentID)
}

func (e *TenantNameTakenError) Unwrap() error { return e.Err }

// createOnce runs a create; after an ambiguous failure it looks the object
// up and creates again only when it is not there. A conflict may be an
// earlier run's object too, so it is looked up before it is reported.
func createOnce[T any](ctx context.Context, c *Client, create func() (T, error), find func() (T, bool, error)) (T, error) {
	var zero T
	var last error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, attempt); err != nil {
				return zero, last
			}
			got, ok, err := find()
			if err != nil {
				return zero, err
			}
			if ok {
				return got, nil
			}
		}
		out, err := create()
		if err == nil {
			return out, nil
		}
		last = err
		if IsStatus(err, http.StatusConflict) {
			got, ok, ferr := find()
			switch {
			case ferr != nil:
				return zero, ferr // the look-up failed: another try may tell
			case ok:
				return got, nil
			}
			return zero, err
		}
		if !isAmbiguous(err) || ctx.Err() != nil {
			return zero, err
		}
	}
	return zero, last
}

// GetTenant reads a tenant.
func (c *Client) GetTenant(ctx context.Context, id string) (Tenant, error) {
	var out Tenant
	err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(id), out: &out, retry: true})
	return out, err
}

// Children lists a tenant's direct children, every page.
func (c *Client) Children(ctx context.Context, parentID string) ([]Tenant, error) {
	var all []Tenant
	q := url.Values{"parent_id": {parentID}}
	for {
		var page list[Tenant]
		if err := c.do(ctx, call{method: http.MethodGet, path: "/tenants", query: q, out: &page, retry: true}); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Paging.Cursors.After == "" {
			return all, nil
		}
		q = url.Values{"after": {page.Paging.Cursors.After}}
	}
}

// FindChildByTag finds the child of parentID with that internal_tag.
func (c *Client) FindChildByTag(ctx context.Context, parentID, tag string) (Tenant, bool, error) {
	kids, err := c.Children(ctx, parentID)
	if err != nil {
		return Tenant{}, false, err
	}
	for _, t := range kids {
		if t.InternalTag != nil && *t.InternalTag == tag {
			return t, true, nil
		}
	}
	return Tenant{}, false, nil
}

// TenantUpdate is a PUT body; nil fields are left as they are.
type TenantUpdate struct {
	Version    int64    `json:"version"`
	Name       *string  `json:"name,omitempty"`
	Enabled    *bool    `json:"enabled,omitempty"`
	CustomerID *string  `json:"customer_id,omitempty"`
	Contact    *Contact `json:"contact,omitempty"`
}

// UpdateTenant fetches the tenant, applies change and puts it back with the
// fetched version, again on a version conflict.
func (c *Client) UpdateTenant(ctx context.Context, id string, change func(*TenantUpdate)) (Tenant, error) {
	return onConflict(c, func() (Tenant, error) {
		cur, err := c.GetTenant(ctx, id)
		if err != nil {
			return Tenant{}, err
		}
		u := TenantUpdate{Version: cur.Version}
		change(&u)
		var out Tenant
		err = c.do(ctx, call{method: http.MethodPut, path: "/tenants/" + url.PathEscape(id), body: u, out: &out, retry: true})
		return out, err
	})
}

// isVersionConflict tells a stale version (code 1001, or a bare 409) from
// other conflicts such as a taken name or login.
func isVersionConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == CodeVersionMismatch || (e.Status == http.StatusConflict && e.Code == 0))
}

// onConflict runs a read-modify-write again while the write meets a
// version conflict (someone changed the object in between, or a write of
// ours was applied though its answer was lost). Conflicts to the last
// attempt are still a race, not a refusal: the error is marked retryable,
// so durable work tries again later instead of failing for good.
func onConflict[T any](c *Client, rmw func() (T, error)) (T, error) {
	var out T
	var err error
	for range c.cfg.MaxAttempts {
		out, err = rmw()
		if err == nil || !isVersionConflict(err) {
			return out, err
		}
	}
	var e *Error
	if errors.As(err, &e) {
		e.Retryable = true
	}
	return out, err
}

// SetTenantEnabled enables or disables (suspends) a tenant.
func (c *Client) SetTenantEnabled(ctx context.Context, id string, enabled bool) (Tenant, error) {
	return c.UpdateTenant(ctx, id, func(u *TenantUpdate) { u.Enabled = &enabled })
}

// DeleteTenant disables the tenant when needed, then deletes it. A tenant
// already gone is not an error.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	for range c.cfg.MaxAttempts {
		t, err := c.GetTenant(ctx, id)
		if IsStatus(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if t.Enabled {
			if t, err = c.SetTenantEnabled(ctx, id, false); err != nil {
				return err
			}
		}
		err = c.do(ctx, call{method: http.MethodDelete, path: "/tenants/" + url.PathEscape(id),
			query: url.Values{"version": {strconv.FormatInt(t.Version, 10)}}, ok: []int{http.StatusNoContent}, retry: true})
		switch {
		case err == nil, IsStatus(err, http.StatusNotFound):
			return nil
		case IsCode(err, CodeVersionMismatch), IsCode(err, CodeDeleteEnabledTenant):
			continue // changed meanwhile: read it again
		default:
			return err
		}
	}
	return &Error{Op: "DELETE /tenants/{id}", Message: "tenant kept changing; giving up"}
}

// Pricing is a tenant's pricing mode.
type Pricing struct {
	Mode                string  `json:"mode"`
	Currency            *string `json:"currency"`
	ProductionStartDate *string `json:"production_start_date,omitempty"`
	Version             int64   `json:"version"`
}

// GetPricing reads the pricing mode.
func (c *Client) GetPricing(ctx context.Context, tenantID string) (Pricing, error) {
	var out Pricing
	err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(tenantID) + "/pricing", out: &out, retry: true})
	return out, err
}

// SetProductionMode moves a tenant from trial to production (irreversible);
// a tenant already in production is left alone.
func (c *Client) SetProductionMode(ctx context.Context, tenantID string) (Pricing, error) {
	return onConflict(c, func() (Pricing, error) {
		p, err := c.GetPricing(ctx, tenantID)
		if err != nil || p.Mode == "production" {
			return p, err
		}
		body := map[string]any{"mode": "production", "currency": p.Currency, "version": p.Version}
		var out Pricing
		err = c.do(ctx, call{method: http.MethodPut, path: "/tenants/" + url.PathEscape(tenantID) + "/pricing", body: body, out: &out, retry: true})
		return out, err
	})
}
