// Package money reads and writes amounts: decimals, never floats, two places
// on the wire, always in the service provider's base currency.
package money

import (
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/internal/errs"
)

// Amount is a parsed amount in the base currency.
type Amount = decimal.Decimal

// Max is the largest amount the platform stores: every money column is
// numeric(14,2). Prices from requests are bounded by the spec to this; what
// is computed from them (price times quantity, a markup, totals with tax)
// is checked with Fits before it is stored.
var Max = decimal.RequireFromString("999999999999.99")

// Fits reports whether an amount can be stored.
func Fits(a Amount) bool { return a.Abs().LessThanOrEqual(Max) }

// TooLarge is the 422 for an amount, given or computed, beyond Max; field
// is the input that made it so.
func TooLarge(field string) *errs.Error {
	return errs.Unprocessable("amount_too_large", "The amount is larger than the platform can bill (at most "+String(Max)+").").WithField(field)
}

// TooLargeAs names field as the one at fault when err is amount_too_large
// (a computed total, refused where it is stored, caused by this input).
func TooLargeAs(err error, field string) error {
	if e := errs.As(err); e != nil && e.Code == "amount_too_large" {
		e.Fields = []errs.FieldError{{Field: field, Code: e.Code, Message: e.Message}}
	}
	return err
}

// Input is money as a request carries it.
type Input struct{ Amount, Currency string }

// Parse checks an amount from a request: a decimal, not negative, at most
// two places, in the base currency. field names it in errors.
func Parse(field, amount, currency, base string) (Amount, error) {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return d, errs.Invalid(field+".amount", "invalid_format", "amount must be a decimal string such as \"12.50\"")
	}
	if currency != base {
		e := errs.Unprocessable("currency_mismatch", "Prices are in the base currency "+base+".")
		e.Fields = []errs.FieldError{{Field: field + ".currency", Code: "currency_mismatch", Message: "must be " + base}}
		return d, e
	}
	if d.IsNegative() {
		e := errs.Unprocessable("negative_amount", "Amounts cannot be negative.")
		e.Fields = []errs.FieldError{{Field: field + ".amount", Code: "negative_amount", Message: "must not be negative"}}
		return d, e
	}
	if !Fits(d) {
		return d, TooLarge(field + ".amount")
	}
	if !d.Equal(d.Round(2)) {
		e := errs.Unprocessable("amount_too_precise", "Amounts have at most two decimal places.")
		e.Fields = []errs.FieldError{{Field: field + ".amount", Code: "amount_too_precise", Message: "at most two decimal places"}}
		return d, e
	}
	return d, nil
}

// String is the wire form: always two places.
func String(a Amount) string { return a.StringFixed(2) }

// Round2 rounds half away from zero to two places, the rule for every line
// and price derived by the platform.
func Round2(a Amount) Amount { return a.Round(2) }

var hundred = decimal.NewFromInt(100)

// PartnerCost is what a partner pays the SP per unit: the SP price less the
// SP's discount, rounded to two places half away from zero.
func PartnerCost(price, discountPercent Amount) Amount {
	return Round2(price.Mul(hundred.Sub(discountPercent)).Div(hundred))
}

// EndPrice is what a partner's customer pays per unit: the partner's cost
// plus the partner's markup, rounded the same way.
func EndPrice(cost, markupPercent Amount) Amount {
	return Round2(cost.Mul(hundred.Add(markupPercent)).Div(hundred))
}
