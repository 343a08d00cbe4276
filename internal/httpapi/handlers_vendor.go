package httpapi

import (
	"context"
	"errors"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// vendorOffer reads the SP's vendor account live.
func (s *Server) vendorOffer(ctx context.Context) (provisioning.Offer, error) {
	if s.vendor == nil {
		return provisioning.Offer{}, errs.E(errs.KindUnavailable, "vendor_not_configured", "No vendor account is configured (ACRONIS_URL).")
	}
	o, err := s.vendor(ctx)
	switch {
	case errors.Is(err, provisioning.ErrBadCredentials):
		e := errs.E(errs.KindBadGateway, "vendor_credentials_invalid", "The vendor refused the configured API client.")
		e.Err = err
		return o, e
	case err != nil:
		e := errs.E(errs.KindBadGateway, "vendor_unreachable", "The vendor could not be reached.")
		e.Err = err
		return o, e
	}
	return o, nil
}

func (s *Server) ListVendorEditions(ctx context.Context, _ oapi.ListVendorEditionsRequestObject) (oapi.ListVendorEditionsResponseObject, error) {
	o, err := s.vendorOffer(ctx)
	if err != nil {
		return nil, err
	}
	return oapi.ListVendorEditions200JSONResponse{Data: append([]string{}, o.Editions...)}, nil
}

func (s *Server) ListVendorLocations(ctx context.Context, _ oapi.ListVendorLocationsRequestObject) (oapi.ListVendorLocationsResponseObject, error) {
	o, err := s.vendorOffer(ctx)
	if err != nil {
		return nil, err
	}
	out := oapi.ListVendorLocations200JSONResponse{Data: make([]oapi.VendorLocation, len(o.Locations))}
	for i, l := range o.Locations {
		out.Data[i] = oapi.VendorLocation{Id: l.ID, Name: l.Name}
	}
	return out, nil
}

func (s *Server) ListVendorOfferingItems(ctx context.Context, _ oapi.ListVendorOfferingItemsRequestObject) (oapi.ListVendorOfferingItemsResponseObject, error) {
	o, err := s.vendorOffer(ctx)
	if err != nil {
		return nil, err
	}
	out := oapi.ListVendorOfferingItems200JSONResponse{Data: make([]oapi.VendorOfferingItem, len(o.Items))}
	for i, it := range o.Items {
		g := oapi.Common
		if it.Independent {
			g = oapi.Independent
		}
		out.Data[i] = oapi.VendorOfferingItem{Name: it.Name, ApplicationId: it.ApplicationID, Edition: it.Edition,
			UsageName: &it.UsageName, MeasurementUnit: &it.Unit, Group: g}
	}
	return out, nil
}
