package acronis

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Usage is a near-real-time usage figure of one offering item of a tenant.
// It is not meant for billing: reports are.
type Usage struct {
	TenantUUID      string  `json:"tenant_uuid"`
	ApplicationID   string  `json:"application_id"`
	Name            string  `json:"name"`
	UsageName       string  `json:"usage_name"`
	Edition         *string `json:"edition"`
	Type            string  `json:"type"`
	MeasurementUnit string  `json:"measurement_unit"`
	InfraID         *string `json:"infra_id,omitempty"`
	RangeStart      string  `json:"range_start"` // ISO time; the vendor omits the zone at times
	Value           int64   `json:"value"`
	AbsoluteValue   int64   `json:"absolute_value"`
}

// TenantUsage reads one tenant's usages.
func (c *Client) TenantUsage(ctx context.Context, tenantID string) ([]Usage, error) {
	var out list[Usage]
	err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/" + url.PathEscape(tenantID) + "/usages", out: &out, retry: true})
	return out.Items, err
}

// TenantsUsage reads several tenants' usages in one call, keyed by tenant.
func (c *Client) TenantsUsage(ctx context.Context, tenantIDs []string) (map[string][]Usage, error) {
	var out struct {
		Items []struct {
			Tenant string  `json:"tenant"`
			Usages []Usage `json:"usages"`
		} `json:"items"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: "/tenants/usages",
		query: url.Values{"tenants": {strings.Join(tenantIDs, ",")}}, out: &out, retry: true})
	if err != nil {
		return nil, err
	}
	m := make(map[string][]Usage, len(out.Items))
	for _, it := range out.Items {
		m[it.Tenant] = it.Usages
	}
	return m, nil
}
