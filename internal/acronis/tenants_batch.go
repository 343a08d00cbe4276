package acronis

import (
	"context"
	"net/http"
	"net/url"
)

// MaxTenantsPerRead is how many ids GET /tenants?uuids= takes at once.
const MaxTenantsPerRead = 100

// TenantsByID reads up to MaxTenantsPerRead tenants in one call, keyed by
// id. Deleted tenants (and ids the client may not see) are absent.
func (c *Client) TenantsByID(ctx context.Context, ids []string) (map[string]Tenant, error) {
	out := make(map[string]Tenant, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var page list[Tenant]
	if err := c.do(ctx, call{method: http.MethodGet, path: "/tenants", query: url.Values{"uuids": {join(ids)}}, out: &page, retry: true}); err != nil {
		return nil, err
	}
	for _, t := range page.Items {
		out[t.ID] = t
	}
	return out, nil
}
