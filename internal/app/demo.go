package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Demo is what SeedDemo made (or found).
type Demo struct {
	PlanID     string
	OrderToken string
}

const demoPrefix = "DEMO"

// The demo's rows have fixed ids: a later seed finds each of them by its id,
// whatever an admin changed since (the venture's prefix, any name, the
// pricing), makes only what is missing and never a second demo.
var (
	demoSpace     = uuid.MustParse("6f3c1a2e-8d4b-4e0f-9a57-1c2d3e4f5a6b")
	demoVentureID = uuid.NewSHA1(demoSpace, []byte("venture"))
	demoTypeID    = uuid.NewSHA1(demoSpace, []byte("product-type"))
	demoProductID = uuid.NewSHA1(demoSpace, []byte("product"))
	demoGroupID   = uuid.NewSHA1(demoSpace, []byte("product-group"))
	demoPlanID    = uuid.NewSHA1(demoSpace, []byte("plan"))
)

// Seed makes the admin SEED_ADMIN_EMAIL (or resets its password) and, with
// SEED_DEMO, the demo catalog, and reports them on out. A demo that cannot
// be made is a warning in the log, not a failure: the platform serves
// without it.
func (a *App) Seed(ctx context.Context, out io.Writer) error {
	u, created, err := a.Users.SeedAdmin(ctx, a.Cfg.SeedAdminEmail, "Platform Admin", a.Cfg.SeedAdminPassword)
	if err != nil {
		return err
	}
	verb := "updated"
	if created {
		verb = "created"
	}
	fmt.Fprintf(out, "admin %s: %s (id %s)\n", verb, u.Email, u.ID)
	if !a.Cfg.SeedDemo {
		return nil
	}
	d, err := a.SeedDemo(ctx)
	if err != nil {
		a.Log.Warn("demo catalog not seeded; the platform serves without it", "err", err.Error())
		return nil
	}
	fmt.Fprintf(out, "demo plan: %s\ndemo order token: %s\n", d.PlanID, d.OrderToken)
	card, err := a.demoRateCard(ctx, uuid.MustParse(d.PlanID))
	if err != nil {
		a.Log.Warn("demo rate card not imported; the margin report flags the month no_card", "err", err.Error())
		return nil
	}
	fmt.Fprintf(out, "demo rate card: %s\n", card)
	return nil
}

// SeedDemo makes a small catalog on the configured vendor account: one
// Acronis plan (100 GB, 5 workstations, 10.00 a month, post-paid, approved
// automatically, sold by partners too) with its order URL. A later run
// finds the first one's rows by their ids and completes what is missing.
func (a *App) SeedDemo(ctx context.Context) (Demo, error) {
	if a.Cfg.AcronisURL == "" {
		return Demo{}, errors.New("demo catalog: ACRONIS_URL is not set")
	}
	plan, err := a.demoPlan(ctx)
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

func (a *App) demoPlan(ctx context.Context) (catalog.Plan, error) {
	c := a.Catalog
	_, err := c.GetPlan(ctx, adminPrincipal, demoPlanID)
	if errs.KindOf(err) == errs.KindNotFound {
		// A demo seeded before the ids were fixed is found by its prefix.
		var legacy catalog.Plan
		err := a.DB.Gorm.WithContext(ctx).Joins("JOIN ventures v ON v.id = plans.venture_id").
			Where("v.invoice_prefix = ? AND v.id <> ?", demoPrefix, demoVentureID).Order("plans.created_at").Take(&legacy).Error
		if err == nil {
			return legacy, nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return catalog.Plan{}, err
		}
	} else if err != nil {
		return catalog.Plan{}, err
	}

	v, err := ensureDemo(ctx, demoVentureID, c.GetVenture, func(ctx context.Context, n int) (catalog.Venture, error) {
		return c.CreateVenture(ctx, numbered("Demo hosting", " ", n), numbered(demoPrefix, "", n))
	})
	if err != nil {
		return catalog.Plan{}, fmt.Errorf("demo venture: %w", err)
	}
	pt, err := ensureDemo(ctx, demoTypeID, c.GetProductType, func(ctx context.Context, n int) (catalog.ProductType, error) {
		return c.CreateProductType(ctx, numbered("Demo backup", " ", n))
	})
	if err != nil {
		return catalog.Plan{}, fmt.Errorf("demo product type: %w", err)
	}
	p, err := ensureDemo(ctx, demoProductID, c.GetProduct, func(ctx context.Context, n int) (catalog.Product, error) {
		return c.CreateProduct(ctx, pt.ID, numbered("Acronis Cyber Protect", " ", n))
	})
	if err != nil {
		return catalog.Plan{}, fmt.Errorf("demo product: %w", err)
	}
	g, err := ensureDemo(ctx, demoGroupID, c.GetProductGroup, func(ctx context.Context, n int) (catalog.ProductGroup, error) {
		name, module := numbered("Per workload", " ", n), catalog.ModuleAcronis
		return c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module})
	})
	if err != nil {
		return catalog.Plan{}, fmt.Errorf("demo product group: %w", err)
	}
	getPlan := func(ctx context.Context, id uuid.UUID) (catalog.Plan, error) {
		return c.GetPlan(ctx, adminPrincipal, id)
	}
	plan, err := ensureDemo(ctx, demoPlanID, getPlan, func(ctx context.Context, _ int) (catalog.Plan, error) {
		name, yes := "Backup 100 GB", true
		return c.CreatePlan(ctx, catalog.PlanInput{VentureID: &v.ID, ProductTypeID: &pt.ID, ProductID: &p.ID, ProductGroupID: &g.ID,
			Name: &name, PartnerVisible: &yes, AutoApprove: &yes})
	})
	if err != nil {
		return catalog.Plan{}, fmt.Errorf("demo plan: %w", err)
	}
	if err := a.demoSettings(ctx, plan.ID); err != nil {
		return catalog.Plan{}, err
	}
	return c.GetPlan(ctx, adminPrincipal, plan.ID)
}

// demoSettings gives the demo plan module settings and pricing where it has
// none (an earlier seed may have stopped before them); set ones are kept.
func (a *App) demoSettings(ctx context.Context, planID uuid.UUID) error {
	c := a.Catalog
	_, err := c.GetModuleSettings(ctx, planID)
	if errs.KindOf(err) == errs.KindNotFound {
		offer, err := provisioning.Inspect(ctx, provisioning.Credentials{URL: a.Cfg.AcronisURL, ClientID: a.Cfg.AcronisClientID,
			ClientSecret: a.Cfg.AcronisClientSecret}, a.Clock)
		if err != nil {
			return fmt.Errorf("demo plan: the vendor at %s: %w", a.Cfg.AcronisURL, err)
		}
		if len(offer.Locations) == 0 {
			return errors.New("demo catalog: the vendor account has no backup location")
		}
		soft, hard := 100, 10
		secret := a.Cfg.AcronisClientSecret
		if _, err := c.SetModuleSettings(ctx, planID, catalog.ModuleInput{DatacenterURL: a.Cfg.AcronisURL, ClientID: a.Cfg.AcronisClientID,
			ClientSecret: &secret, StorageQuotaGB: &soft, OverageQuotaGB: &hard, Edition: "pck_per_workload",
			BackupLocation: offer.Locations[0].ID, Common: map[string]float64{"pw_base_workstations": 5}}); err != nil {
			return fmt.Errorf("demo module settings: %w", err)
		}
	} else if err != nil {
		return err
	}
	_, err = c.GetPricing(ctx, planID)
	if errs.KindOf(err) == errs.KindNotFound {
		if _, err := c.SetPricing(ctx, planID, catalog.Pricing{BillingModel: catalog.PostpaidFixed, EnableQuantity: true,
			Cycles: []catalog.Cycle{
				{Frequency: "monthly", Price: decimal.RequireFromString("10.00")},
				{Frequency: "annually", Price: decimal.RequireFromString("100.00")},
			}}); err != nil {
			return fmt.Errorf("demo pricing: %w", err)
		}
	} else if err != nil {
		return err
	}
	// Dunning a storefront developer can watch on the sandbox clock:
	// reminders 3 days before, on and 3 days after the due date,
	// suspension 7 days after, termination 30 days after.
	_, err = c.GetNotificationSettings(ctx, planID)
	if errs.KindOf(err) == errs.KindNotFound {
		if _, err := c.SetNotificationSettings(ctx, planID, catalog.NotificationSettings{SuspensionDays: 7, TerminationDays: 30,
			ReminderDays: pq.Int64Array{-3, 0, 3}}); err != nil {
			return fmt.Errorf("demo notification settings: %w", err)
		}
		return nil
	}
	return err
}

// ensureDemo reads the demo row with this id or creates it under the id.
// When another row holds the demo's name or prefix, the next try numbers
// it (create's n: 1, 2, ...).
func ensureDemo[T any](ctx context.Context, id uuid.UUID, get func(context.Context, uuid.UUID) (T, error),
	create func(ctx context.Context, n int) (T, error)) (T, error) {
	v, err := get(ctx, id)
	if errs.KindOf(err) != errs.KindNotFound {
		return v, err
	}
	ctx = catalog.WithID(ctx, id)
	for n := 1; ; n++ {
		v, err = create(ctx, n)
		if n == 9 || !strings.HasSuffix(errs.CodeOf(err), "_taken") {
			return v, err
		}
	}
}

// numbered is name for the first try, then name, sep and n.
func numbered(name, sep string, n int) string {
	if n == 1 {
		return name
	}
	return fmt.Sprintf("%s%s%d", name, sep, n)
}

// adminPrincipal is the platform itself acting as the SP.
var adminPrincipal = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "seed"}
