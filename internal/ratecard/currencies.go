package ratecard

import (
	_ "embed"
	"strings"
)

//go:embed currencies.txt
var currencyList string

// currencies are the ISO 4217 codes a card may be in.
var currencies = func() map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(currencyList, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, c := range strings.Fields(line) {
			out[c] = true
		}
	}
	return out
}()

// IsCurrency reports whether code is an ISO 4217 currency code.
func IsCurrency(code string) bool { return currencies[code] }
