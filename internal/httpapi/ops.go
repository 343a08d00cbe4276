package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// operation is what the spec says about one operation that the middleware
// enforces: who may call it and whether it is idempotent.
type operation struct {
	id         string
	public     bool
	roles      []string // admin, partner, customer, api_key
	idempotent bool     // declares the Idempotency-Key header
}

func (o operation) allows(role string) bool { return slices.Contains(o.roles, role) }

// operations reads x-roles and the Idempotency-Key parameter of every
// operation. An operation without x-roles is a spec error.
func operations(spec *openapi3.T) (map[string]operation, error) {
	out := map[string]operation{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := operation{id: op.OperationID}
			raw, ok := op.Extensions["x-roles"]
			if !ok {
				return nil, fmt.Errorf("%s %s: no x-roles", method, path)
			}
			b, _ := json.Marshal(raw)
			if err := json.Unmarshal(b, &o.roles); err != nil || len(o.roles) == 0 {
				return nil, fmt.Errorf("%s %s: x-roles must be a list of roles", method, path)
			}
			o.public = slices.Contains(o.roles, "public")
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, p := range params {
				if p.Value != nil && p.Value.In == "header" && p.Value.Name == "Idempotency-Key" {
					o.idempotent = true
				}
			}
			out[op.OperationID] = o
		}
	}
	return out, nil
}
