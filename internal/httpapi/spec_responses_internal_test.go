package httpapi

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api"
)

// TestSpecDeclaresEveryResponse: every operation declares each status the
// layers in front of its handler, and the transactions behind it, can
// answer, so clients and generated SDKs are told of them:
//   - 400 and 500 everywhere: checkInput refuses bad text in any query
//     string, and anything can fail;
//   - 401 unless only anonymous callers are taken (a public operation that
//     also takes credentials refuses bad ones); 403 unless every role may
//     call it;
//   - 429 on public operations the anonymous limiter counts;
//   - 409 on every operation that writes (not GET): a transaction that met
//     another one is a 409 concurrent_change (postgres.Contention);
//     Idempotency-Key: 409 for a concurrent duplicate, 422 for a reused key;
//   - 412 with If-Match, 413 with a request body (the body limit), 406
//     where the answer's media type is negotiated.
func TestSpecDeclaresEveryResponse(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	require.NoError(t, err)
	ops, err := operations(doc)
	require.NoError(t, err)
	negotiated := producing(doc)
	allRoles := []string{"admin", "partner", "customer", "api_key"}

	var missing []string
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := ops[op.OperationID]
			need := map[string]string{
				"400": "bad text in the query is refused by checkInput",
				"500": "any operation can fail",
			}
			if !o.public || len(o.roles) > 1 {
				need["401"] = "takes credentials"
			}
			if !(o.public && len(o.roles) == 1) && slices.ContainsFunc(allRoles, func(r string) bool { return !o.allows(r) }) {
				need["403"] = "not every role may call it"
			}
			if o.public && !unlimitedOp[op.OperationID] {
				need["429"] = "counted by the anonymous rate limit"
			}
			if method != http.MethodGet && !readsOnly[op.OperationID] {
				need["409"] = "writes: concurrent_change when its transaction meets another"
			}
			if o.idempotent {
				need["409"] = "Idempotency-Key: a concurrent duplicate"
				need["422"] = "Idempotency-Key: idempotency_key_reused"
			}
			params := append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
			for _, p := range params {
				if p.Value != nil && p.Value.In == "header" && p.Value.Name == "If-Match" {
					need["412"] = "takes If-Match"
				}
			}
			if op.RequestBody != nil {
				need["413"] = "takes a body (the body limit)"
			}
			if _, ok := negotiated[op.OperationID]; ok {
				need["406"] = "negotiates its media type"
			}
			for status, why := range need {
				if op.Responses.Value(status) == nil {
					missing = append(missing, method+" "+path+" ("+op.OperationID+"): "+status+", "+why)
				}
			}
			checked++
		}
	}
	require.Greater(t, checked, 100, "the spec's operations are read")
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("responses an operation can answer and api/openapi.yaml does not declare:\n%s", strings.Join(missing, "\n"))
	}
}

// readsOnly are operations that are not GET yet run no transaction that
// could meet another: signing in reads the user and counts the attempt in
// single-row upserts (internal/ratelimit).
var readsOnly = map[string]bool{"createToken": true}
