package ratecard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/errs"
)

// Where the template's offering items come from.
const (
	SourceVendor   = "vendor"   // read live from the SP's vendor account
	SourcePlatform = "platform" // what the platform knows: plans' settings, services, synced usage
)

// templateRows is how far down the data sheet the validations reach: the
// header plus MaxRows rows, all an import accepts.
const templateRows = MaxRows + 1

// TemplateItem is an offering item listed on the template's offering
// sheet: the vendor's name and measurement unit (bytes, quantity; empty
// when unknown), the rate card unit to use for it, a description and the
// editions it belongs to, when known.
type TemplateItem struct {
	Name, MeasurementUnit, Unit, Description, Edition string
}

// VendorItems reads the offering items the SP's vendor account can give
// its customers.
type VendorItems func(ctx context.Context) ([]TemplateItem, error)

// Template is what the template workbook is made from.
type Template struct {
	BaseCurrency string
	// Source is SourceVendor or SourcePlatform; Reason says why the
	// platform's items are listed instead of the vendor's.
	Source, Reason string
	Items          []TemplateItem
	Made           time.Time
}

// NewTemplate gathers the offering items: from the vendor when vendor is
// set and answers within timeout, otherwise those the platform knows. A
// vendor that is down never fails the template.
func NewTemplate(ctx context.Context, db *gorm.DB, vendor VendorItems, timeout time.Duration, baseCurrency string, now time.Time) (Template, error) {
	t := Template{BaseCurrency: baseCurrency, Made: now}
	reason := "no vendor account is configured (ACRONIS_URL)"
	if vendor != nil {
		vctx, cancel := context.WithTimeout(ctx, timeout)
		items, err := vendor(vctx)
		cancel()
		if err == nil {
			t.Source, t.Items = SourceVendor, sortItems(items)
			return t, nil
		}
		if ctx.Err() != nil { // the caller went away, not the vendor
			return t, ctx.Err()
		}
		reason = "the vendor account could not be read (" + vendorFailure(err) + ")"
	}
	items, err := PlatformItems(ctx, db)
	if err != nil {
		return t, err
	}
	t.Source, t.Reason, t.Items = SourcePlatform, reason, items
	return t, nil
}

// vendorFailure names a vendor failure without its details, which may
// carry addresses or tokens.
func vendorFailure(err error) string {
	var ae *acronis.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case !errors.As(err, &ae) || ae.Status == 0:
		return "unreachable"
	case ae.Status == 401 || ae.Status == 403:
		return "credentials refused"
	}
	return "HTTP " + strconv.Itoa(ae.Status)
}

// VendorOfferingItems reads, through c, the offering items the API
// client's tenant (the SP) can give a customer, in every edition.
func VendorOfferingItems(c *acronis.Client) VendorItems {
	return func(ctx context.Context) ([]TemplateItem, error) {
		me, err := c.WhoAmI(ctx)
		if err != nil {
			return nil, err
		}
		avail, err := c.AvailableForChild(ctx, me.TenantID, acronis.KindCustomer, "")
		if err != nil {
			return nil, err
		}
		out := make([]TemplateItem, 0, len(avail))
		for _, o := range avail {
			it := TemplateItem{Name: o.Name, MeasurementUnit: o.MeasurementUnit, Unit: unitFor(o.Name, o.UsageName, o.MeasurementUnit),
				Description: describe(o.ApplicationID, o.UsageName)}
			if o.Edition != nil {
				it.Edition = *o.Edition
			}
			out = append(out, it)
		}
		return out, nil
	}
}

// PlatformItems are the offering items the platform knows without the
// vendor: those plans' module settings enable, services' storage items
// and the items of synced usage.
func PlatformItems(ctx context.Context, db *gorm.DB) ([]TemplateItem, error) {
	type known struct {
		measure  string
		editions []string
	}
	byName := map[string]*known{}
	add := func(name, measure, edition string) {
		k := byName[name]
		if k == nil {
			k = &known{}
			byName[name] = k
		}
		if k.measure == "" {
			k.measure = measure
		}
		if edition != "" && !slices.Contains(k.editions, edition) {
			k.editions = append(k.editions, edition)
		}
	}
	var plans []struct {
		OfferingItems []byte
		Edition       string
	}
	if err := db.WithContext(ctx).Raw(`SELECT offering_items, edition FROM plan_module_settings`).Scan(&plans).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, p := range plans {
		var g struct {
			Common      map[string]json.RawMessage `json:"common"`
			Independent map[string]json.RawMessage `json:"independent"`
		}
		_ = json.Unmarshal(p.OfferingItems, &g)
		for n := range g.Common {
			add(n, "", p.Edition)
		}
		for n := range g.Independent {
			add(n, "", "")
		}
	}
	var storage []string
	if err := db.WithContext(ctx).Raw(`SELECT DISTINCT storage_item FROM services WHERE storage_item IS NOT NULL`).Scan(&storage).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, n := range storage {
		add(n, "bytes", "")
	}
	var used []struct{ Item, Unit string }
	if err := db.WithContext(ctx).Raw(`SELECT item, min(unit) AS unit FROM usage_daily GROUP BY item`).Scan(&used).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, u := range used {
		add(u.Item, u.Unit, "")
	}
	out := make([]TemplateItem, 0, len(byName))
	for n, k := range byName {
		sort.Strings(k.editions)
		out = append(out, TemplateItem{Name: n, MeasurementUnit: k.measure, Unit: unitFor(n, "", k.measure), Edition: strings.Join(k.editions, ", ")})
	}
	return sortItems(out), nil
}

func sortItems(items []TemplateItem) []TemplateItem {
	sort.SliceStable(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return slices.CompactFunc(items, func(a, b TemplateItem) bool { return a.Name == b.Name && a.Edition == b.Edition })
}

// unitFor suggests the rate card unit of an item: GB for what the vendor
// measures in bytes, else the counted thing its usage name (or, without
// one, its name) speaks of.
func unitFor(name, usageName, measure string) string {
	if measure == "bytes" {
		return "GB"
	}
	s := strings.ToLower(usageName)
	if s == "" {
		s = strings.ToLower(name)
		if measure == "" && strings.Contains(s, "storage") {
			return "GB"
		}
	}
	for _, k := range []struct{ word, unit string }{
		{"mailbox", "mailbox"}, {"workstation", "workstation"}, {"server", "server"}, {"vms", "virtual machine"},
		{"virtual", "virtual machine"}, {"mobile", "mobile device"}, {"website", "website"}, {"seat", "seat"},
		{"user", "user"}, {"device", "device"}, {"licen", "license"},
	} {
		if strings.Contains(s, k.word) {
			return k.unit
		}
	}
	return "unit"
}

var applicationNames = map[string]string{
	acronis.AppBackup: "Cyber Protection", acronis.AppPlatform: "Platform", acronis.AppFilesCloud: "File Sync & Share",
	acronis.AppNotary: "Notary",
}

func describe(appID, usageName string) string {
	app := applicationNames[appID]
	switch {
	case app == "":
		return strings.ReplaceAll(usageName, "_", " ")
	case usageName == "":
		return app
	}
	return app + ": " + strings.ReplaceAll(usageName, "_", " ")
}

// ColumnNotes say what each column of the data sheet means, in Columns
// order.
var ColumnNotes = map[string]string{
	ColSKU: "The vendor's SKU or offering item name, e.g. pw_base_storage. Required, one row per SKU, unique in the card " +
		"(case is ignored). The drop-down lists the vendor's offering items (sheet " + OfferingSheet + "); other SKUs may be typed.",
	ColDescription: "Free text for people, optional.",
	ColUnit: "What one unit cost pays for. Required, one of: " + strings.Join(Units, ", ") + ". Items the vendor measures in bytes " +
		"take GB or TB (1 TB = 1024 GB); counted items take a counted unit.",
	ColUnitCost: fmt.Sprintf("What the vendor charges for one unit for the month, in the card's currency. Required: a number of 0 or more "+
		"with at most %d decimal places.", MaxDecimals),
	ColBasis: "How the vendor bills the item: " + BasisUsage + " (the month's peak usage) or " + BasisQuota +
		" (the quota set on the tenant). Optional; empty means " + BasisUsage + ".",
}

// XLSX writes the template workbook: the data sheet with its header and
// validations, the notes sheet and the offering items sheet.
func (t Template) XLSX() ([]byte, error) {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	if err := t.dataSheet(f); err != nil {
		return nil, errs.Internal(err)
	}
	if err := t.notesSheet(f); err != nil {
		return nil, errs.Internal(err)
	}
	if err := t.offeringSheet(f); err != nil {
		return nil, errs.Internal(err)
	}
	f.SetActiveSheet(0)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, errs.Internal(err)
	}
	return buf.Bytes(), nil
}

// column is the letter of a data sheet column.
func column(name string) string { return colName(slices.Index(Columns, name)) }

func (t Template) dataSheet(f *excelize.File) error {
	if err := f.SetSheetName("Sheet1", DataSheet); err != nil {
		return err
	}
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return err
	}
	for i, c := range Columns {
		if err := f.SetCellStr(DataSheet, colName(i)+"1", c); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(DataSheet, "A1", colName(len(Columns)-1)+"1", header); err != nil {
		return err
	}
	widths := map[string]float64{ColSKU: 32, ColDescription: 40, ColUnit: 16, ColUnitCost: 14, ColBasis: 12}
	for _, c := range Columns {
		if err := f.SetColWidth(DataSheet, column(c), column(c), widths[c]); err != nil {
			return err
		}
	}
	cost := "0.00" + strings.Repeat("#", MaxDecimals-2)
	costStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &cost})
	if err != nil {
		return err
	}
	if err := f.SetColStyle(DataSheet, column(ColUnitCost), costStyle); err != nil {
		return err
	}
	if err := f.SetPanes(DataSheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	rows := func(col string) string { return fmt.Sprintf("%s2:%s%d", column(col), column(col), templateRows) }

	unit := excelize.NewDataValidation(false)
	unit.Sqref = rows(ColUnit)
	if err := unit.SetDropList(Units); err != nil {
		return err
	}
	unit.SetError(excelize.DataValidationErrorStyleStop, "Unknown unit", "Choose one of: "+strings.Join(Units, ", ")+".")
	basis := excelize.NewDataValidation(true)
	basis.Sqref = rows(ColBasis)
	if err := basis.SetDropList([]string{BasisUsage, BasisQuota}); err != nil {
		return err
	}
	basis.SetError(excelize.DataValidationErrorStyleStop, "Billed by", BasisUsage+" or "+BasisQuota+" (empty means "+BasisUsage+").")
	price := excelize.NewDataValidation(false)
	price.Sqref = rows(ColUnitCost)
	if err := price.SetRange(0, "", excelize.DataValidationTypeDecimal, excelize.DataValidationOperatorGreaterThanOrEqual); err != nil {
		return err
	}
	price.SetError(excelize.DataValidationErrorStyleStop, "Unit cost", fmt.Sprintf("A number of 0 or more, at most %d decimal places.", MaxDecimals))
	dvs := []*excelize.DataValidation{unit, basis, price}
	if len(t.Items) > 0 {
		sku := excelize.NewDataValidation(false)
		sku.Sqref = rows(ColSKU)
		sku.SetSqrefDropList(fmt.Sprintf("'%s'!$A$2:$A$%d", OfferingSheet, len(t.Items)+1))
		// Other SKUs may be typed: the alert only informs.
		sku.SetError(excelize.DataValidationErrorStyleInformation, "Not an offering item",
			"This SKU is not among the vendor's offering items (sheet "+OfferingSheet+"); it is kept as typed.")
		dvs = append(dvs, sku)
	}
	for _, dv := range dvs {
		if err := f.AddDataValidation(DataSheet, dv); err != nil {
			return err
		}
	}
	return nil
}

// Notes are the notes sheet's rows below its header: topic and text.
func (t Template) Notes() [][2]string {
	notes := make([][2]string, 0, len(Columns)+6)
	for _, c := range Columns {
		notes = append(notes, [2]string{c, ColumnNotes[c]})
	}
	notes = append(notes,
		[2]string{"Layout", "The first row of the sheet " + DataSheet + " names the columns (the import finds them by name); one SKU per row " +
			"below it. Fully empty rows are skipped."},
		[2]string{"Currency, exchange rate, month, year", "Not in the workbook: they are given with the upload " +
			"(POST /v1/product-groups/{id}/rate-cards): the card's currency (ISO 4217), its exchange rate (" + t.BaseCurrency +
			" per 1 unit of the card's currency; 1 when the card is in " + t.BaseCurrency + "), the month (1..12) and the year."},
		[2]string{"Base currency", t.BaseCurrency + ": the platform's base currency (set by the platform's configuration, not in the card). " +
			"Costs are converted into it at the card's exchange rate."},
		[2]string{"Formulas", "A formula cell counts as the value saved with it (Excel and LibreOffice save it); a formula without a " +
			"saved value is refused."},
		[2]string{"Limits", fmt.Sprintf("The file up to %d MiB (%d MiB unzipped), up to %d rows below the header, unit costs with at most "+
			"%d decimal places. Any bad cell rejects the whole import, with a list of the bad cells (row, column, code, message).",
			MaxFileBytes>>20, MaxUnzippedBytes>>20, MaxRows, MaxDecimals)},
		[2]string{"Offering items", t.sourceNote()},
	)
	return notes
}

func (t Template) sourceNote() string {
	if t.Source == SourceVendor {
		return "The sheet " + OfferingSheet + " lists the offering items the vendor account gives its customers, read from the vendor on " +
			t.Made.UTC().Format("2006-01-02 15:04 UTC") + "."
	}
	return "The sheet " + OfferingSheet + " lists the offering items the platform knows (plans' settings, services' storage items, " +
		"synced usage), not read from the vendor: " + t.Reason + "."
}

func (t Template) notesSheet(f *excelize.File) error {
	if _, err := f.NewSheet(NotesSheet); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	wrap, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	rows := append([][2]string{{"Topic", "What it means"}}, t.Notes()...)
	for i, r := range rows {
		if err := f.SetSheetRow(NotesSheet, fmt.Sprintf("A%d", i+1), &[]any{r[0], r[1]}); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(NotesSheet, "A1", "B1", bold); err != nil {
		return err
	}
	if err := f.SetCellStyle(NotesSheet, "A2", fmt.Sprintf("B%d", len(rows)), wrap); err != nil {
		return err
	}
	if err := f.SetColWidth(NotesSheet, "A", "A", 34); err != nil {
		return err
	}
	return f.SetColWidth(NotesSheet, "B", "B", 100)
}

// OfferingHeader is the offering items sheet's header row.
var OfferingHeader = []string{"Offering item", "Measurement unit", "Unit to use", "Description", "Edition"}

func (t Template) offeringSheet(f *excelize.File) error {
	if _, err := f.NewSheet(OfferingSheet); err != nil {
		return err
	}
	head := make([]any, len(OfferingHeader))
	for i, h := range OfferingHeader {
		head[i] = h
	}
	if err := f.SetSheetRow(OfferingSheet, "A1", &head); err != nil {
		return err
	}
	for i, it := range t.Items {
		if err := f.SetSheetRow(OfferingSheet, fmt.Sprintf("A%d", i+2), &[]any{it.Name, it.MeasurementUnit, it.Unit, it.Description, it.Edition}); err != nil {
			return err
		}
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	if err := f.SetCellStyle(OfferingSheet, "A1", colName(len(OfferingHeader)-1)+"1", bold); err != nil {
		return err
	}
	if err := f.SetColWidth(OfferingSheet, "A", "A", 32); err != nil {
		return err
	}
	if err := f.SetColWidth(OfferingSheet, "B", "C", 16); err != nil {
		return err
	}
	if err := f.SetColWidth(OfferingSheet, "D", "E", 30); err != nil {
		return err
	}
	return f.SetPanes(OfferingSheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
}
