package httpapi

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/internal/errs"
)

// The media types of the files some operations answer with besides JSON.
const (
	mediaJSON = "application/json"
	mediaCSV  = "text/csv"
	mediaXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// producing reads, per operation, the media types of its successful
// answers when there is more than one (JSON first: the default). Only
// those operations negotiate; the others answer JSON whatever is asked.
func producing(spec *openapi3.T) map[string][]string {
	out := map[string][]string{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			seen := map[string]bool{}
			var types []string
			for code, r := range op.Responses.Map() {
				if !strings.HasPrefix(code, "2") || r.Value == nil {
					continue
				}
				for t := range r.Value.Content {
					if !seen[t] {
						seen[t] = true
						types = append(types, t)
					}
				}
			}
			if len(types) < 2 {
				continue
			}
			sort.SliceStable(types, func(i, j int) bool {
				if (types[i] == "application/json") != (types[j] == "application/json") {
					return types[i] == "application/json"
				}
				return types[i] < types[j]
			})
			out[op.OperationID] = types
		}
	}
	return out
}

type mediaKey struct{}

// negotiate picks the answer's media type from Accept among offers
// (default: the first) and hands it to the handler through the context;
// an Accept that allows none of them is 406.
func negotiate(offers []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Add("Vary", "Accept")
			t, ok := pick(c.Request().Header.Values("Accept"), offers)
			if !ok {
				e := errs.E(errs.KindNotAcceptable, "not_acceptable", "This resource is available as "+strings.Join(offers, " or ")+".")
				e.Fields = []errs.FieldError{{Field: "Accept", Code: "not_acceptable", Message: "accept " + strings.Join(offers, " or ")}}
				return e
			}
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), mediaKey{}, t)))
			return next(c)
		}
	}
}

// negotiated is the media type negotiate chose ("" outside it).
func negotiated(ctx context.Context) string {
	t, _ := ctx.Value(mediaKey{}).(string)
	return t
}

// pick reads Accept (RFC 9110 12.5.1): each offer takes the quality of
// the most specific range that matches it; the best positive quality
// wins, ties going to the earlier offer. No Accept, or an empty one,
// takes the first offer.
func pick(accept []string, offers []string) (string, bool) {
	type rng struct {
		typ, sub string
		q        float64
	}
	var ranges []rng
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			fields := strings.Split(part, ";")
			mt := strings.ToLower(strings.TrimSpace(fields[0]))
			if mt == "" {
				continue
			}
			typ, sub, ok := strings.Cut(mt, "/")
			if !ok || typ == "" || sub == "" || (typ == "*" && sub != "*") {
				continue // not a media range: ignored
			}
			q := 1.0
			for _, p := range fields[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0 // a broken weight accepts nothing
					}
					q = f
				}
			}
			ranges = append(ranges, rng{typ, sub, q})
		}
	}
	if len(ranges) == 0 {
		if slices.ContainsFunc(accept, func(h string) bool { return strings.TrimSpace(h) != "" }) {
			return "", false // something was asked for, none of it a media range
		}
		return offers[0], true
	}
	best, bestQ := "", 0.0
	for _, o := range offers {
		typ, sub, _ := strings.Cut(o, "/")
		spec, q := -1, 0.0
		for _, r := range ranges {
			s := -1
			switch {
			case r.typ == typ && r.sub == sub:
				s = 2
			case r.typ == typ && r.sub == "*":
				s = 1
			case r.typ == "*" && r.sub == "*":
				s = 0
			}
			if s > spec {
				spec, q = s, r.q
			}
		}
		if spec >= 0 && q > bestQ {
			best, bestQ = o, q
		}
	}
	return best, bestQ > 0
}
