package money_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount, currency string
		want             string
		code             string
	}{
		{"12.5", "USD", "12.50", ""},
		{"0", "USD", "0.00", ""},
		{"100.00", "USD", "100.00", ""},
		{"-1.00", "USD", "", "negative_amount"},
		{"1.005", "USD", "", "amount_too_precise"},
		{"1.00", "EUR", "", "currency_mismatch"},
		{"abc", "USD", "", "validation_failed"},
		{"999999999999.99", "USD", "999999999999.99", ""},
		{"1000000000000.00", "USD", "", "amount_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.amount+tt.currency, func(t *testing.T) {
			t.Parallel()
			d, err := money.Parse("price", tt.amount, tt.currency, "USD")
			if tt.code != "" {
				require.Equal(t, tt.code, errs.CodeOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, money.String(d))
		})
	}
}

func TestRound2IsHalfAwayFromZero(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"1.005": "1.01", "-1.005": "-1.01", "2.675": "2.68", "1.004": "1.00"} {
		require.Equal(t, want, money.String(money.Round2(decimal.RequireFromString(in))), in)
	}
}

func TestPartnerPrices(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	tests := []struct {
		price, discount, markup string
		cost, end               string
	}{
		{"10.00", "20", "25", "8.00", "10.00"},
		{"9.99", "15", "10", "8.49", "9.34"}, // 8.4915 -> 8.49; 9.339 -> 9.34
		{"0.05", "50", "0", "0.03", "0.03"},  // 0.025 rounds away from zero
		{"100.00", "0", "33.333", "100.00", "133.33"},
		{"19.99", "100", "50", "0.00", "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.price+"/"+tt.discount+"/"+tt.markup, func(t *testing.T) {
			t.Parallel()
			cost := money.PartnerCost(d(tt.price), d(tt.discount))
			require.Equal(t, tt.cost, money.String(cost))
			require.Equal(t, tt.end, money.String(money.EndPrice(cost, d(tt.markup))))
		})
	}
}
