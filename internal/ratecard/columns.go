package ratecard

// The workbook layout shared by the template and the import: one data sheet
// whose first row names the columns, a row per SKU below it.
const (
	DataSheet     = "Rate card"
	NotesSheet    = "Notes"
	OfferingSheet = "Offering items"

	ColSKU         = "SKU or offering item"
	ColDescription = "Description"
	ColUnit        = "Unit"
	ColUnitCost    = "Unit cost"
	ColBasis       = "Billed by" // optional; empty means usage

	BasisUsage = "usage" // the vendor bills what was used (the month's peak)
	BasisQuota = "quota" // the vendor bills the quota set on the tenant
)

// Columns in the template's order; the import finds them by header name.
var Columns = []string{ColSKU, ColDescription, ColUnit, ColUnitCost, ColBasis}

// Units a row may use. Items the vendor measures in bytes take GB or TB;
// the others are counted.
var Units = []string{"GB", "TB", "workstation", "server", "virtual machine", "mobile device",
	"website", "mailbox", "seat", "user", "device", "license", "unit"}

// SizeUnits are the units of items the vendor measures in bytes, in GB each.
var SizeUnits = map[string]int64{"GB": 1, "TB": 1024}

// Import limits: a file over MaxFileBytes is refused before it is read, a
// workbook whose parts would unzip beyond MaxUnzippedBytes is a zip bomb,
// more than MaxRows rows below the header are refused.
const (
	MaxFileBytes     = 5 << 20
	MaxUnzippedBytes = 64 << 20
	MaxRows          = 10000
	MaxDecimals      = 6
)
