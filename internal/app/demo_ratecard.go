package app

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/ratecard"
)

// demoCard is the demo group's vendor price list: what a margin report of
// the current month prices the demo's usage with.
var demoCard = [][]any{
	{"pw_base_storage", "Cloud storage", "GB", 0.021, ratecard.BasisUsage},
	{"pw_base_workstations", "Workstation", "workstation", 1.85, ratecard.BasisQuota},
	{"pw_base_servers", "Server", "server", 7.4, ratecard.BasisUsage},
}

// demoRateCard imports the demo plan's group's card for the current month, made
// from the platform's own template, when the month has none (an admin's
// import is kept). The card is in EUR at 1.08 (USD at 0.93 when the base
// currency is EUR), so the margin report shows a conversion.
func (a *App) demoRateCard(ctx context.Context, planID uuid.UUID) (string, error) {
	plan, err := a.Catalog.GetPlan(ctx, adminPrincipal, planID)
	if err != nil {
		return "", err
	}
	group := plan.ProductGroupID
	cards := ratecard.New(a.DB.Gorm, a.Clock, a.Cfg.Location(), a.Cfg.BaseCurrency)
	now := a.Clock.Now().In(a.Cfg.Location())
	y, m := now.Year(), int(now.Month())
	cur, err := ratecard.Current(ctx, a.DB.Gorm, group, y, m)
	if err != nil {
		return "", err
	}
	if cur != nil {
		return fmt.Sprintf("%d-%02d version %d (kept)", y, m, cur.Version), nil
	}
	t, err := ratecard.NewTemplate(ctx, a.DB.Gorm, nil, 0, a.Cfg.BaseCurrency, now)
	if err != nil {
		return "", err
	}
	blank, err := t.XLSX()
	if err != nil {
		return "", err
	}
	f, err := excelize.OpenReader(bytes.NewReader(blank))
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	for i, row := range demoCard {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow(ratecard.DataSheet, cell, &row); err != nil {
			return "", err
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return "", err
	}
	currency, rate := "EUR", "1.08"
	if a.Cfg.BaseCurrency == "EUR" {
		currency, rate = "USD", "0.93"
	}
	c, err := cards.Import(ctx, adminPrincipal, ratecard.ImportInput{GroupID: group, Month: m, Year: y, Currency: currency,
		ExchangeRate: rate, FileName: "demo-rate-card.xlsx", File: buf.Bytes()})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%02d in %s at %s (%s)", y, m, c.Currency, c.ExchangeRate, c.ID), nil
}
