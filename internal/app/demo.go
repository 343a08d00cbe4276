package app

import (
	"context"
	"errors"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Demo is what SeedDemo made (or found).
type Demo struct {
	PlanID     string
	OrderToken string
}

const demoPrefix = "DEMO"

// SeedDemo makes a small catalog on the configured vendor account: one
// Acronis plan (100 GB, 5 workstations, 10.00 a month, post-paid, approved
// automatically, sold by partners too) with its order URL. A second run
// finds the first one's plan.
func (a *App) SeedDemo(ctx context.Context) (Demo, error) {
	if a.Cfg.AcronisURL == "" {
		return Demo{}, errors.New("demo catalog: ACRONIS_URL is not set")
	}
	var plan catalog.Plan
	err := a.DB.Gorm.WithContext(ctx).Joins("JOIN ventures v ON v.id = plans.venture_id").
		Where("v.invoice_prefix = ?", demoPrefix).Order("plans.created_at").Take(&plan).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		plan, err = a.demoCatalog(ctx)
	}
	if err != nil {
		return Demo{}, err
	}
	urls, err := a.Catalog.OrderURLs(ctx, adminPrincipal, plan.ID)
	if err != nil {
		return Demo{}, err
	}
	d := Demo{PlanID: plan.ID.String()}
	for _, u := range urls {
		if u.PartnerID == nil && u.Frequency == "monthly" {
			d.OrderToken = u.Token
		}
	}
	return d, nil
}

func (a *App) demoCatalog(ctx context.Context) (catalog.Plan, error) {
	c := a.Catalog
	v, err := c.CreateVenture(ctx, "Demo hosting", demoPrefix)
	if err != nil {
		return catalog.Plan{}, err
	}
	pt, err := c.CreateProductType(ctx, "Demo backup")
	if err != nil {
		return catalog.Plan{}, err
	}
	p, err := c.CreateProduct(ctx, pt.ID, "Acronis Cyber Protect")
	if err != nil {
		return catalog.Plan{}, err
	}
	name, module := "Per workload", catalog.ModuleAcronis
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module})
	if err != nil {
		return catalog.Plan{}, err
	}
	planName, yes := "Backup 100 GB", true
	plan, err := c.CreatePlan(ctx, catalog.PlanInput{VentureID: &v.ID, ProductTypeID: &pt.ID, ProductID: &p.ID, ProductGroupID: &g.ID,
		Name: &planName, PartnerVisible: &yes, AutoApprove: &yes})
	if err != nil {
		return catalog.Plan{}, err
	}
	offer, err := provisioning.Inspect(ctx, provisioning.Credentials{URL: a.Cfg.AcronisURL, ClientID: a.Cfg.AcronisClientID,
		ClientSecret: a.Cfg.AcronisClientSecret}, a.Clock)
	if err != nil {
		return catalog.Plan{}, err
	}
	if len(offer.Locations) == 0 {
		return catalog.Plan{}, errors.New("demo catalog: the vendor account has no backup location")
	}
	soft, hard := 100, 10
	secret := a.Cfg.AcronisClientSecret
	if _, err := c.SetModuleSettings(ctx, plan.ID, catalog.ModuleInput{DatacenterURL: a.Cfg.AcronisURL, ClientID: a.Cfg.AcronisClientID,
		ClientSecret: &secret, StorageQuotaGB: &soft, OverageQuotaGB: &hard, Edition: "pck_per_workload",
		BackupLocation: offer.Locations[0].ID, Common: map[string]float64{"pw_base_workstations": 5}}); err != nil {
		return catalog.Plan{}, err
	}
	if _, err := c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.PostpaidFixed, EnableQuantity: true,
		Cycles: []catalog.Cycle{
			{Frequency: "monthly", Price: decimal.RequireFromString("10.00")},
			{Frequency: "annually", Price: decimal.RequireFromString("100.00")},
		}}); err != nil {
		return catalog.Plan{}, err
	}
	return c.GetPlan(ctx, adminPrincipal, plan.ID)
}

// adminPrincipal is the platform itself acting as the SP.
var adminPrincipal = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "seed"}
