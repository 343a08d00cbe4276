package app

import (
	"net/http"

	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/reconcile"
)

// newReconcile wires reconciliation: the SP's configured account (when
// there is one) and the plans' accounts, reached through the egress guard.
func newReconcile(cfg config.Config, db *postgres.DB, clk clock.Clock, cat *catalog.Service, hc *http.Client) *reconcile.Service {
	rc := reconcile.Config{Location: cfg.Location(), HTTPClient: hc, AttemptTimeout: cfg.AcronisAttemptTimeout}
	if cfg.AcronisURL != "" {
		rc.SP = &provisioning.Credentials{URL: cfg.AcronisURL, ClientID: cfg.AcronisClientID, ClientSecret: cfg.AcronisClientSecret}
	}
	return reconcile.NewService(db.Gorm, clk, cat, rc)
}
