// Go SDK of the Acronis Automation Platform API, generated from
// api/openapi.yaml by oapi-codegen: the models, a client with a method per
// operation (NewClientWithResponses, whose XxxWithResponse methods decode
// each declared answer into JSON200, JSON201, ApplicationproblemJSON422…)
// and the server interface the platform itself implements.
//
// Import it from any module:
//
//	go get github.com/acronis-platform/platform/api/oapi
//
//	c, err := oapi.NewClientWithResponses("https://billing.example.com",
//		oapi.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
//			r.Header.Set("Authorization", "Bearer "+apiKey) // none for storefront calls
//			return nil
//		}))
//
// Amounts are oapi.Money, decimal strings; ids are UUIDs; an error answer's
// body is an oapi.Problem with a stable Code. See the package example for a
// storefront's anonymous order, from the offer to the buyer's login.
// The package is regenerated with the spec (make generate); do not edit
// api.gen.go.
package oapi
