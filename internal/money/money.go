// Package money reads and writes amounts: decimals, never floats, two places
// on the wire, always in the service provider's base currency.
package money

import (
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/internal/errs"
)

// Amount is a parsed amount in the base currency.
type Amount = decimal.Decimal

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
