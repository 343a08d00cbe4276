package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/invoicepdf"
	"github.com/acronis-platform/platform/internal/invoicepdf/pdftest"
)

// accept sets the Accept header of a generated client's request.
func accept(mediaType string) oapi.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Accept", mediaType)
		return nil
	}
}

// invoicePDF asks for an invoice as a PDF through the generated client
// and checks the answer's headers.
func invoicePDF(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID) (*oapi.GetInvoiceResponse, pdftest.Doc) {
	t.Helper()
	res, err := c.GetInvoiceWithResponse(context.Background(), id, accept("application/pdf"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	require.Equal(t, "application/pdf", res.ContentType())
	require.Nil(t, res.JSON200)
	require.Equal(t, strconv.Itoa(len(res.Body)), res.HTTPResponse.Header.Get("Content-Length"))
	require.Contains(t, res.HTTPResponse.Header.Values("Vary"), "Accept")
	return res, pdftest.Read(t, res.Body)
}

// A renewal under two taxes, partly paid: the PDF shows each figure as
// the JSON does, to the cent, with the venture as issuer; the mailer's
// function renders the same document outside HTTP.
func TestInvoicePDFOfATaxedRenewal(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	var taxIDs []uuid.UUID
	for _, tx := range []oapi.TaxCreate{{Name: "VAT", Rate: "21"}, {Name: "City tax", Rate: "2.5"}} {
		res, err := s.admin.CreateTaxWithResponse(ctx, nil, tx)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		taxIDs = append(taxIDs, res.JSON201.Id)
	}
	g, err := s.admin.UpdateProductGroupWithResponse(ctx, s.chain.group, nil, oapi.ProductGroupUpdate{TaxIds: &taxIDs})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, g.StatusCode(), string(g.Body))
	_, token := s.plan(t, planOpts{autoApprove: true, quantity: true, cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "12.34")}})
	body := storefrontOrder(token, newLogin())
	body.Customer.Name = "ООО «Ромашка» 株式会社"
	body.Quantity = ptr(3)
	order := place(t, s.env.Client(t, ""), body)
	require.Equal(t, http.StatusAccepted, order.StatusCode(), string(order.Body))
	customerID := order.JSON202.CustomerId
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &customerID})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, first.Id, first.Total.Amount).StatusCode())
	done := waitOrder(t, s.admin, order.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

	svc, err := s.env.App.Services.Get(ctx, apptest.AdminPrincipal, done.ServiceId)
	require.NoError(t, err)
	s.env.Clock.Set(svc.NextDueDate.AddDate(0, 0, -7).Add(12 * time.Hour))
	run, err := s.env.App.Billing.RunNow(ctx, "test", "renewals", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, run.Invoices)
	admin, _ := s.env.Admin(t) // tokens from before the clock moved have expired
	renewals := invoicesOf(t, admin, &oapi.ListInvoicesParams{CustomerId: &customerID, Status: ptr(oapi.InvoiceStatusUnpaid)})
	require.Len(t, renewals, 1)
	id := renewals[0].Id
	require.Equal(t, http.StatusCreated, pay(t, admin, id, "10.00").StatusCode())

	got, err := admin.GetInvoiceWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
	require.Equal(t, "application/json", got.ContentType(), "JSON stays the default")
	inv := *got.JSON200
	require.Equal(t, oapi.InvoiceKindRenewal, inv.Kind)
	// 3 x 12.34 = 37.02; VAT 21 % = 7.7742 -> 7.77; city tax 2.5 % = 0.9255 -> 0.93.
	require.Equal(t, []string{"37.02", "8.70", "45.72", "10.00", "35.72"},
		[]string{inv.Subtotal.Amount, inv.TaxTotal.Amount, inv.Total.Amount, inv.AmountPaid.Amount, inv.Balance.Amount})
	require.Len(t, *inv.Lines, 1)
	line := (*inv.Lines)[0]

	res, doc := invoicePDF(t, admin, id)
	require.Equal(t, `inline; filename=`+*inv.Number+`.pdf`, res.HTTPResponse.Header.Get("Content-Disposition"))
	require.Equal(t, got.HTTPResponse.Header.Get("ETag"), res.HTTPResponse.Header.Get("ETag"), "the same version")
	require.Equal(t, "V", doc.Rows()[0], "the venture issues it")
	for _, row := range []string{
		"Number " + *inv.Number,
		"Issue date " + inv.IssueDate.Format(time.DateOnly),
		"Due date " + inv.DueDate.Format(time.DateOnly),
		"Period " + inv.PeriodStart.Format(time.DateOnly) + " to " + inv.PeriodEnd.Format(time.DateOnly),
		"Status unpaid",
		"Kind renewal",
		"OOO «Romashka» ????", // the recipient, folded to the PDF's code page
		"1 " + line.Description + " " + line.PeriodStart.Format(time.DateOnly) + " 3 12.34 37.02",
		"to " + line.PeriodEnd.Format(time.DateOnly),
		"Subtotal 37.02 USD",
		"City tax 2.5% of 37.02 0.93 USD",
		"VAT 21% of 37.02 7.77 USD",
		"Tax total 8.70 USD",
		"Total 45.72 USD",
		"Amount paid 10.00 USD",
		"Balance due 35.72 USD",
		"Invoice " + *inv.Number + " - page 1 of 1",
	} {
		doc.RequireRow(t, row)
	}
	require.Contains(t, doc.Text(), "taxed: VAT 21%, City tax 2.5%")
	require.Contains(t, doc.Text(), "bank transfer ref-10.00 10.00 USD", "the payment")

	t.Run("HEAD answers the PDF's headers without it", func(t *testing.T) {
		t.Parallel()
		status, h, b := raw(t, http.MethodHead, s.env.Server.URL+"/v1/invoices/"+id.String(), adminToken(t, s.env), "", "", "Accept", "application/pdf")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "application/pdf", h.Get("Content-Type"))
		require.Equal(t, strconv.Itoa(len(res.Body)), h.Get("Content-Length"))
		require.Equal(t, res.HTTPResponse.Header.Get("ETag"), h.Get("ETag"))
		require.Empty(t, b)
	})

	t.Run("the mailer's function renders the same PDF", func(t *testing.T) {
		t.Parallel()
		f, err := invoicepdf.ForInvoice(ctx, s.env.App.DB.Gorm, id)
		require.NoError(t, err)
		require.Equal(t, *inv.Number+".pdf", f.Name)
		require.Equal(t, "application/pdf", f.ContentType)
		require.Equal(t, res.Body, f.Data)
		// In a transaction too (as a mail is queued beside its change).
		err = s.env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
			f, err := invoicepdf.ForInvoice(ctx, tx, id)
			require.NoError(t, err)
			require.Equal(t, res.Body, f.Data)
			return nil
		})
		require.NoError(t, err)
		_, err = invoicepdf.ForInvoice(ctx, s.env.App.DB.Gorm, uuid.New())
		require.Equal(t, errs.KindNotFound, errs.KindOf(err))
	})
}

// A partner's sale: its customer's invoice names the partner as issuer,
// the SP's bill to the partner names the venture; each PDF is seen by
// exactly those who see the JSON, and an invisible invoice is the same
// 404 either way.
func TestInvoicePDFIssuersAndScoping(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, _ := s.plan(t, planOpts{partnerVisible: true})
	p, partner := s.activePartner(t)
	_, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("20")})
	require.NoError(t, err)
	_, err = partner.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("50")})
	require.NoError(t, err)
	res, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: newLogin(),
		Customer: &oapi.NewCustomer{Name: "Zoë Ünal & Søn", Email: oapiEmail(uuid.NewString() + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	var toCustomer, toPartner oapi.Invoice
	for _, inv := range invoicesOf(t, partner, nil) {
		if inv.CustomerId != nil {
			toCustomer = inv
		} else {
			toPartner = inv
		}
	}
	require.NotNil(t, toCustomer.CustomerId)
	require.NotNil(t, toPartner.PartnerId)

	t.Run("issuers", func(t *testing.T) {
		t.Parallel()
		_, doc := invoicePDF(t, partner, toCustomer.Id)
		require.Equal(t, p.Name, doc.Rows()[0], "the partner issues its customer's invoice")
		doc.RequireRow(t, "Zoë Ünal & Søn")
		doc.RequireRow(t, "Total 12.00 USD")
		doc.RequireRow(t, "Balance due 12.00 USD")
		require.Contains(t, doc.Text(), *toCustomer.Number)

		_, doc = invoicePDF(t, partner, toPartner.Id)
		require.Equal(t, "V", doc.Rows()[0], "the SP's venture bills the partner at cost")
		doc.RequireRow(t, p.Name)
		doc.RequireRow(t, string(p.Email))
		doc.RequireRow(t, "Total 8.00 USD")
	})

	_, owner := s.env.CustomerUser(t, toCustomer.CustomerId)
	_, otherCustomer := s.env.CustomerUser(t, nil)
	_, stranger := s.activePartner(t)
	clients := map[string]*oapi.ClientWithResponses{
		"admin": s.admin, "partner": partner, "owner": s.env.Client(t, owner),
		"another customer": s.env.Client(t, otherCustomer), "another partner": stranger,
	}
	tests := []struct {
		who     string
		invoice oapi.Invoice
		status  int
	}{
		{"admin", toCustomer, http.StatusOK},
		{"admin", toPartner, http.StatusOK},
		{"partner", toCustomer, http.StatusOK},
		{"partner", toPartner, http.StatusOK},
		{"owner", toCustomer, http.StatusOK},
		{"owner", toPartner, http.StatusNotFound},
		{"another customer", toCustomer, http.StatusNotFound},
		{"another customer", toPartner, http.StatusNotFound},
		{"another partner", toCustomer, http.StatusNotFound},
		{"another partner", toPartner, http.StatusNotFound},
	}
	for _, tt := range tests {
		kind := "to the customer"
		if tt.invoice.PartnerId != nil {
			kind = "to the partner"
		}
		t.Run(tt.who+" reads the invoice "+kind, func(t *testing.T) {
			t.Parallel()
			c := clients[tt.who]
			asJSON, err := c.GetInvoiceWithResponse(ctx, tt.invoice.Id)
			require.NoError(t, err)
			asPDF, err := c.GetInvoiceWithResponse(ctx, tt.invoice.Id, accept("application/pdf"))
			require.NoError(t, err)
			require.Equal(t, tt.status, asJSON.StatusCode(), string(asJSON.Body))
			require.Equal(t, tt.status, asPDF.StatusCode(), string(asPDF.Body))
			if tt.status == http.StatusOK {
				require.Equal(t, "application/pdf", asPDF.ContentType())
				pdftest.Read(t, asPDF.Body).RequireRow(t, "Total "+tt.invoice.Total.Amount+" USD")
				return
			}
			requireProblem(t, asPDF.StatusCode(), asPDF.HTTPResponse.Header, asPDF.Body, http.StatusNotFound, "not_found")
			require.Equal(t, asJSON.ApplicationproblemJSON404.Detail, asPDF.ApplicationproblemJSON404.Detail, "the same 404")
		})
	}

	t.Run("negotiation", func(t *testing.T) {
		t.Parallel()
		url := s.env.Server.URL + "/v1/invoices/" + toCustomer.Id.String()
		token := adminToken(t, s.env)
		tests := []struct {
			accept string
			status int
			media  string
		}{
			{"", http.StatusOK, "application/json"},
			{"*/*", http.StatusOK, "application/json"},
			{"application/*", http.StatusOK, "application/json"},
			{"application/json", http.StatusOK, "application/json"},
			{"application/pdf", http.StatusOK, "application/pdf"},
			{"APPLICATION/PDF", http.StatusOK, "application/pdf"},
			{"application/pdf, application/json;q=0.5", http.StatusOK, "application/pdf"},
			{"application/json;q=0.2, application/pdf;q=0.9", http.StatusOK, "application/pdf"},
			{"application/json;q=0.5, application/pdf;q=0.5", http.StatusOK, "application/json"},
			{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", http.StatusOK, "application/json"},
			{"*/*;q=0.1, application/json;q=0", http.StatusOK, "application/pdf"},
			{"text/html", http.StatusNotAcceptable, ""},
			{"application/pdf;q=0", http.StatusNotAcceptable, ""},
			{"application/xml, text/*", http.StatusNotAcceptable, ""},
			{"application/problem+json", http.StatusNotAcceptable, ""},
			{"application/pdf;q=x", http.StatusNotAcceptable, ""},
			{"nonsense", http.StatusNotAcceptable, ""},
		}
		for _, tt := range tests {
			t.Run(tt.accept, func(t *testing.T) {
				t.Parallel()
				var headers []string
				if tt.accept != "" {
					headers = []string{"Accept", tt.accept}
				}
				status, h, b := raw(t, http.MethodGet, url, token, "", "", headers...)
				if tt.status == http.StatusNotAcceptable {
					p := requireProblem(t, status, h, b, http.StatusNotAcceptable, "not_acceptable")
					require.Equal(t, "Accept", p.Errors[0].Field)
					return
				}
				require.Equal(t, tt.status, status, string(b))
				require.Equal(t, tt.media, h.Get("Content-Type"))
				require.Contains(t, h.Values("Vary"), "Accept")
			})
		}
	})

	t.Run("406 through the generated client, before any look-up", func(t *testing.T) {
		t.Parallel()
		for _, id := range []uuid.UUID{toCustomer.Id, uuid.New()} {
			r, err := stranger.GetInvoiceWithResponse(ctx, id, accept("text/html"))
			require.NoError(t, err)
			require.Equal(t, http.StatusNotAcceptable, r.StatusCode(), string(r.Body))
			require.NotNil(t, r.ApplicationproblemJSON406)
			require.Equal(t, "not_acceptable", r.ApplicationproblemJSON406.Code)
		}
		// Credentials are checked first.
		r, err := s.env.Client(t, "").GetInvoiceWithResponse(ctx, toCustomer.Id, accept("text/html"))
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, r.StatusCode())
	})
}

// A stored invoice of 200 lines to a customer with a postal address: the
// PDF takes several pages, each with the table head and its page number,
// every line once, the recipient's address as entered.
func TestInvoicePDFOfManyLines(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	ch := newChain(t, admin, oapi.None)
	c, err := admin.CreateCustomerWithResponse(ctx, nil, oapi.CustomerCreate{Name: "Łukasz Nowak — Щука", Email: oapiEmail(uuid.NewString() + "@example.com"),
		Address: ptr("ul. Długa 5\nGdańsk"), Country: ptr("PL"), Phone: ptr("+48 58 000 00 00")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, c.StatusCode(), string(c.Body))
	customerID := c.JSON201.Id

	number := "MANY-" + uuid.NewString()[:8]
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	inv := billing.Invoice{ID: uuid.New(), Number: &number, BillingKey: "test:" + number, VentureID: ch.venture, CustomerID: &customerID,
		Kind: billing.InvoicePostpaid, Status: billing.StatusUnpaid, Currency: "USD", IssueDate: &day, DueDate: &day,
		PeriodStart: day, PeriodEnd: day.AddDate(0, 1, -1), Version: 1, CreatedAt: day, UpdatedAt: day}
	var lines []billing.InvoiceLine
	sum := decimal.Zero
	for i := 1; i <= 200; i++ {
		amount := decimal.New(int64(i*101), -2) // 1.01, 2.02, ...
		sum = sum.Add(amount)
		lines = append(lines, billing.InvoiceLine{ID: uuid.New(), InvoiceID: inv.ID, Position: i, Kind: "usage",
			Description: fmt.Sprintf("Item %03d: workstations, max of daily usage", i), PeriodStart: &day, PeriodEnd: &inv.PeriodEnd,
			Quantity: decimal.NewFromInt(int64(i)), UnitPrice: decimal.RequireFromString("1.01"), Amount: amount, TaxIDs: pq.StringArray{},
			Detail: []byte(`{"offering_item":"workstations","aggregation":"max","quantity":"` + strconv.Itoa(i) + `"}`)})
	}
	inv.Subtotal, inv.Total = sum, sum
	db := env.App.DB.Gorm
	require.NoError(t, db.Create(&inv).Error)
	require.NoError(t, db.CreateInBatches(lines, 100).Error)

	_, doc := invoicePDF(t, admin, inv.ID)
	n := len(doc.Pages)
	require.Greater(t, n, 4)
	for i, p := range doc.Pages {
		require.Contains(t, p, "# Description Period Quantity Unit price Amount", "page %d", i+1)
		require.Contains(t, p, fmt.Sprintf("Invoice %s - page %d of %d", number, i+1, n))
	}
	for i := 1; i <= 200; i++ {
		doc.RequireRow(t, fmt.Sprintf("%d Item %03d: workstations, max of daily usage 2026-11-01 %d 1.01 %s", i, i, i, decimal.New(int64(i*101), -2).StringFixed(2)))
	}
	// 1.01 x (1 + ... + 200) = 20301.00
	require.Contains(t, doc.Pages[n-1], "Total 20301.00 USD")
	require.Contains(t, doc.Pages[n-1], "Balance due 20301.00 USD")
	for _, row := range []string{"Lukasz Nowak — Shchuka", "ul. Dluga 5", "Gdansk", "PL", "+48 58 000 00 00"} {
		require.Contains(t, doc.Pages[0], row, "the recipient")
	}
}
