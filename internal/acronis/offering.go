package acronis

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Well-known application ids, the same in every datacenter.
const (
	AppBackup     = "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb"
	AppPlatform   = "7459244f-68f3-3bf4-9f53-5f63ecc1d91f"
	AppFilesCloud = "dfd85a5f-a464-32ab-81fd-99bcc66a070f"
	AppNotary     = "f9c5744e-bd1a-36b6-b0f0-ecd7483e1796"
)

// Quota limits an offering item: Value is the soft quota, Overage the
// allowance above it; nil means unlimited.
type Quota struct {
	Value   *int64 `json:"value"`
	Overage *int64 `json:"overage"`
	Version int64  `json:"version"`
}

// OfferingItem is a sellable item of a tenant (status 1 enabled, 0 disabled).
type OfferingItem struct {
	ApplicationID   string  `json:"application_id"`
	Name            string  `json:"name"`
	UsageName       string  `json:"usage_name,omitempty"`
	Edition         *string `json:"edition,omitempty"`
	Type            string  `json:"type,omitempty"`
	MeasurementUnit string  `json:"measurement_unit,omitempty"`
	InfraID         *string `json:"infra_id,omitempty"`
	Status          int     `json:"status"`
	Locked          bool    `json:"locked,omitempty"`
	Quota           *Quota  `json:"quota,omitempty"`
}

// Enabled reports whether the item is on.
func (o OfferingItem) Enabled() bool { return o.Status == 1 }

// OfferingItems lists every item of a tenant, in every edition.
func (c *Client) OfferingItems(ctx context.Context, tenantID string) ([]OfferingItem, error) {
	var out list[OfferingItem]
	err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(tenantID) + "/offering_items",
		query: url.Values{"edition": {"*"}}, out: &out, retry: true})
	return out.Items, err
}

// AvailableForChild lists what parentID can give a child of kind; edition
// "" means every edition.
func (c *Client) AvailableForChild(ctx context.Context, parentID, kind, edition string) ([]OfferingItem, error) {
	if edition == "" {
		edition = "*"
	}
	var out list[OfferingItem]
	err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(parentID) + "/offering_items/available_for_child",
		query: url.Values{"kind": {kind}, "edition": {edition}}, out: &out, retry: true})
	return out.Items, err
}

// SetOfferingItems enables, disables or sets quotas of the given items;
// items not named keep their state. Quota versions must be current: on a
// version conflict the current versions are read and the change is put again.
func (c *Client) SetOfferingItems(ctx context.Context, tenantID string, items []OfferingItem) ([]OfferingItem, error) {
	if items == nil {
		items = []OfferingItem{} // the vendor wants a list, never null
	}
	var last error
	for attempt := range c.cfg.MaxAttempts {
		if attempt > 0 {
			if err := c.refreshQuotaVersions(ctx, tenantID, items); err != nil {
				return nil, err
			}
		}
		body := map[string]any{"offering_items": items}
		var out list[OfferingItem]
		err := c.do(ctx, call{method: http.MethodPut, path: "/tenants/" + url.PathEscape(tenantID) + "/offering_items",
			body: body, out: &out, retry: true})
		if err == nil {
			return out.Items, nil
		}
		last = err
		if !IsCode(err, CodeVersionMismatch) {
			return nil, err
		}
	}
	return nil, last
}

func (c *Client) refreshQuotaVersions(ctx context.Context, tenantID string, items []OfferingItem) error {
	cur, err := c.OfferingItems(ctx, tenantID)
	if err != nil {
		return err
	}
	version := map[string]int64{}
	for _, o := range cur {
		if o.Quota != nil {
			version[o.Name] = o.Quota.Version
		}
	}
	for i := range items {
		if items[i].Quota != nil {
			items[i].Quota.Version = version[items[i].Name]
		}
	}
	return nil
}

// BindApplication enables a service (application) for a tenant.
func (c *Client) BindApplication(ctx context.Context, appID, tenantID string) error {
	return c.do(ctx, call{method: http.MethodPost, path: "/applications/" + url.PathEscape(appID) + "/bindings/tenants/" + url.PathEscape(tenantID),
		ok: []int{http.StatusNoContent}, retry: true})
}

// Application is a vendor service.
type Application struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Applications lists the services of the datacenter.
func (c *Client) Applications(ctx context.Context) ([]Application, error) {
	var out list[Application]
	err := c.do(ctx, call{method: http.MethodGet, path: "/applications", out: &out, retry: true})
	return out.Items, err
}

// Editions lists the editions the datacenter knows.
func (c *Client) Editions(ctx context.Context) ([]string, error) {
	var out struct {
		Items []any `json:"items"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/editions", out: &out, retry: true}); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		switch v := it.(type) {
		case string:
			names = append(names, v)
		case map[string]any:
			if n, ok := v["name"].(string); ok {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// Infra is a storage or service location backend.
type Infra struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	LocationID   string   `json:"location_id"`
	Capabilities []string `json:"capabilities"`
	BackendType  string   `json:"backend_type"`
}

// Location is a datacenter location.
type Location struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TenantInfra lists the infra (storages) a tenant can use.
func (c *Client) TenantInfra(ctx context.Context, tenantID string) ([]Infra, error) {
	var ids struct {
		Infras []string `json:"infras"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(tenantID) + "/infra", out: &ids, retry: true}); err != nil {
		return nil, err
	}
	if len(ids.Infras) == 0 {
		return nil, nil
	}
	var out list[Infra]
	err := c.do(ctx, call{method: http.MethodGet, path: "/infra", query: url.Values{"uuids": {join(ids.Infras)}}, out: &out, retry: true})
	return out.Items, err
}

// TenantLocations lists the locations a tenant can use.
func (c *Client) TenantLocations(ctx context.Context, tenantID string) ([]Location, error) {
	var ids struct {
		Locations []string `json:"locations"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(tenantID) + "/locations", out: &ids, retry: true}); err != nil {
		return nil, err
	}
	if len(ids.Locations) == 0 {
		return nil, nil
	}
	var out list[Location]
	err := c.do(ctx, call{method: http.MethodGet, path: "/locations", query: url.Values{"uuids": {join(ids.Locations)}}, out: &out, retry: true})
	return out.Items, err
}

func join(ids []string) string { return strings.Join(ids, ",") }
