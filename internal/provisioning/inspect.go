package provisioning

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/clock"
)

// Offer is what a vendor account can sell: what plan settings are checked
// against and consoles show in drop-downs.
type Offer struct {
	Editions      []string
	Locations     []Location
	OfferingItems []string // enabled on the SP tenant
	Items         []Item   // the same, described
}

// Item is an offering item the account has enabled.
type Item struct {
	Name, ApplicationID, UsageName, Unit string
	Edition                              *string
	// Independent applications (File Sync & Share, Notary) are chosen
	// apart from the common ones.
	Independent bool
}

// Location is a backup location.
type Location struct{ ID, Name string }

// Failures of Inspect that callers answer differently.
var (
	ErrBadCredentials = errors.New("vendor refused the credentials")
	ErrUnreachable    = errors.New("vendor unreachable")
)

// Credentials reach one vendor account.
type Credentials struct {
	URL, ClientID, ClientSecret string
}

// Inspect tests the credentials and reads what the account offers. It gives
// up quickly: it runs while an admin waits on a save.
func Inspect(ctx context.Context, cred Credentials, clk clock.Clock) (Offer, error) {
	return InspectWith(ctx, cred, clk, nil)
}

// InspectWith is Inspect over hc (nil: a plain client), e.g. one that
// guards the addresses it connects to (internal/egress).
func InspectWith(ctx context.Context, cred Credentials, clk clock.Clock, hc *http.Client) (Offer, error) {
	c, err := acronis.New(acronis.Config{BaseURL: cred.URL, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret,
		HTTPClient: hc, Clock: clk, MaxAttempts: 2, AttemptTimeout: 5 * time.Second, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		return Offer{}, ErrUnreachable
	}
	me, err := c.WhoAmI(ctx)
	if err != nil {
		return Offer{}, classify(err)
	}
	var o Offer
	if o.Editions, err = c.Editions(ctx); err != nil {
		return Offer{}, classify(err)
	}
	locs, err := c.TenantLocations(ctx, me.TenantID)
	if err != nil {
		return Offer{}, classify(err)
	}
	for _, l := range locs {
		o.Locations = append(o.Locations, Location{ID: l.ID, Name: l.Name})
	}
	items, err := c.OfferingItems(ctx, me.TenantID)
	if err != nil {
		return Offer{}, classify(err)
	}
	for _, it := range items {
		if it.Enabled() {
			o.OfferingItems = append(o.OfferingItems, it.Name)
			o.Items = append(o.Items, Item{Name: it.Name, ApplicationID: it.ApplicationID, UsageName: it.UsageName,
				Unit: it.MeasurementUnit, Edition: it.Edition,
				Independent: it.ApplicationID == acronis.AppFilesCloud || it.ApplicationID == acronis.AppNotary})
		}
	}
	return o, nil
}

func classify(err error) error {
	if acronis.IsStatus(err, http.StatusUnauthorized) || acronis.IsStatus(err, http.StatusForbidden) ||
		acronis.IsStatus(err, http.StatusBadRequest) {
		return ErrBadCredentials
	}
	return errors.Join(ErrUnreachable, err)
}
