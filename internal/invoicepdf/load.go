package invoicepdf

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/errs"
)

// File is a rendered invoice, ready to attach or serve.
type File struct {
	Name        string // the invoice number, ".pdf"
	ContentType string // ContentType
	Data        []byte
}

// ForInvoice renders invoice id as stored in db, which may be a
// transaction (then the PDF shows what that transaction sees, e.g. an
// invoice it has just issued). It is for callers outside HTTP, such as the
// mailer attaching the PDF: it does not scope by caller. An unknown id is
// errs not_found.
func ForInvoice(ctx context.Context, db *gorm.DB, id uuid.UUID) (File, error) {
	d, err := Load(ctx, db, id)
	if err != nil {
		return File{}, err
	}
	return d.File()
}

// File renders the document.
func (d Document) File() (File, error) {
	b, err := Render(d)
	if err != nil {
		return File{}, errs.Internal(err)
	}
	return File{Name: Filename(d.Invoice), ContentType: ContentType, Data: b}, nil
}

// Load reads invoice id with its lines, taxes, payments, issuer and
// recipient.
func Load(ctx context.Context, db *gorm.DB, id uuid.UUID) (Document, error) {
	db = db.WithContext(ctx)
	var inv billing.Invoice
	if err := db.Where("id = ?", id).Take(&inv).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Document{}, errs.NotFound("invoice")
		}
		return Document{}, errs.Internal(err)
	}
	if err := db.Where("invoice_id = ?", inv.ID).Order("position").Find(&inv.Lines).Error; err != nil {
		return Document{}, errs.Internal(err)
	}
	if err := db.Where("invoice_id = ?", inv.ID).Order("name").Find(&inv.Taxes).Error; err != nil {
		return Document{}, errs.Internal(err)
	}
	var ps []billing.Payment
	if err := db.Where("invoice_id = ?", inv.ID).Order("created_at").Find(&ps).Error; err != nil {
		return Document{}, errs.Internal(err)
	}
	return Gather(ctx, db, inv, ps)
}

// Gather completes an invoice already read (with its lines and taxes, e.g.
// by billing.Service.Get under the caller's scope) with its issuer and
// recipient.
func Gather(ctx context.Context, db *gorm.DB, inv billing.Invoice, payments []billing.Payment) (Document, error) {
	db = db.WithContext(ctx)
	d := Document{Invoice: inv, Payments: payments}
	var err error
	if inv.IssuerPartnerID != nil {
		d.Issuer, err = partyOf(db, "partners", *inv.IssuerPartnerID)
	} else {
		d.Issuer, err = partyOf(db, "ventures", inv.VentureID)
	}
	if err != nil {
		return Document{}, err
	}
	switch {
	case inv.CustomerID != nil:
		d.Recipient, err = partyOf(db, "customers", *inv.CustomerID)
	case inv.PartnerID != nil:
		d.Recipient, err = partyOf(db, "partners", *inv.PartnerID)
	}
	if err != nil {
		return Document{}, err
	}
	return d, nil
}

// partyOf reads what is printed of a venture (its name: the catalog keeps
// no address for it), a partner (name, email) or a customer (name,
// address, country, email, phone).
func partyOf(db *gorm.DB, table string, id uuid.UUID) (Party, error) {
	var row struct {
		Name    string
		Email   string
		Phone   string
		Address string
		Country string
	}
	cols := map[string]string{
		"ventures":  "name",
		"partners":  "name, email",
		"customers": "name, email, phone, address, country",
	}[table]
	if err := db.Table(table).Select(cols).Where("id = ?", id).Take(&row).Error; err != nil {
		// The foreign keys keep these rows; a miss is a broken database.
		return Party{}, errs.Internal(err)
	}
	p := Party{Name: row.Name}
	lines := strings.Split(strings.ReplaceAll(row.Address, "\r\n", "\n"), "\n")
	for _, l := range append(lines, row.Country, row.Email, row.Phone) {
		if l = strings.TrimSpace(l); l != "" {
			p.Lines = append(p.Lines, l)
		}
	}
	return p, nil
}
