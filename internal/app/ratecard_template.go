package app

import (
	"time"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// rateCardVendor reads the offering items for the rate card template from
// the SP's vendor account; nil without one. One try per call, as an admin
// waits on the download and the template falls back to what the platform
// knows.
func rateCardVendor(cfg config.Config, clk clock.Clock) ratecard.VendorItems {
	if cfg.AcronisURL == "" {
		return nil
	}
	c, err := acronis.New(acronis.Config{BaseURL: cfg.AcronisURL, ClientID: cfg.AcronisClientID, ClientSecret: cfg.AcronisClientSecret,
		Clock: clk, MaxAttempts: 1, AttemptTimeout: 4 * time.Second})
	if err != nil {
		return nil // New already refused this ACRONIS_URL for the module
	}
	return ratecard.VendorOfferingItems(c)
}
