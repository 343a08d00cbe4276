// Command sdkshop is a storefront's order flow written against the Go SDK,
// github.com/acronis-platform/platform/api/oapi, from a module of its own
// (TestGoSDKFromAnotherModule builds it with `go mod init example.com/shop`).
//
//	sdkshop -url https://billing.example.com -offer <order-URL token> -username <login>
//
// It reads the offer, checks the username, places an anonymous order, polls
// its status until it is done and prints one JSON line: the order, and where
// and as whom the buyer signs in. An answer the flow does not expect is
// printed as the API's problem, with exit status 1.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/acronis-platform/platform/api/oapi"
)

type result struct {
	OrderID      string `json:"order_id"`
	Status       string `json:"status"`
	UnitPrice    string `json:"unit_price"`
	PortalURL    string `json:"portal_url,omitempty"`
	Username     string `json:"username,omitempty"`
	Instructions string `json:"instructions,omitempty"`
	PasswordSeen bool   `json:"password_seen"`
}

func main() {
	base := flag.String("url", os.Getenv("PLATFORM_URL"), "the platform's base URL")
	offer := flag.String("offer", "", "an order-URL token")
	username := flag.String("username", "", "the vendor login to order")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := oapi.NewClientWithResponses(*base)
	if err != nil {
		fail(err)
	}

	o, err := c.GetStorefrontOfferWithResponse(ctx, *offer)
	expect("read the offer", o.HTTPResponse, o.Body, err, http.StatusOK)

	free, err := c.GetUsernameAvailabilityWithResponse(ctx, *username)
	expect("check the username", free.HTTPResponse, free.Body, err, http.StatusOK)
	if !free.JSON200.Available {
		fail(fmt.Errorf("username %s is taken", *username))
	}

	body := oapi.StorefrontOrderCreate{Token: o.JSON200.Token, Username: *username,
		Customer: &oapi.NewCustomer{Name: "Fabrikam " + *username, Email: openapi_types.Email(*username + "@fabrikam.example")}}
	placed, err := c.PlaceStorefrontOrderWithResponse(ctx, &oapi.PlaceStorefrontOrderParams{IdempotencyKey: newKey()}, body)
	expect("place the order", placed.HTTPResponse, placed.Body, err, http.StatusAccepted)
	order := *placed.JSON202

	for order.Status != oapi.OrderStatusCompleted && order.Status != oapi.OrderStatusFailed && order.Status != oapi.OrderStatusCancelled {
		time.Sleep(100 * time.Millisecond)
		read, err := c.GetStorefrontOrderWithResponse(ctx, order.Id, &oapi.GetStorefrontOrderParams{Token: *placed.JSON202.StatusToken})
		expect("read the order", read.HTTPResponse, read.Body, err, http.StatusOK)
		order = *read.JSON200
	}

	out := result{OrderID: order.Id.String(), Status: string(order.Status), UnitPrice: order.UnitPrice.Amount + " " + order.UnitPrice.Currency,
		PasswordSeen: order.Password != nil}
	if order.Login != nil {
		out.PortalURL, out.Username, out.Instructions = order.Login.PortalUrl, order.Login.Username, order.Login.Instructions
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

// expect ends the program unless the call answered want.
func expect(what string, res *http.Response, body []byte, err error, want int) {
	if err != nil {
		fail(fmt.Errorf("%s: %w", what, err))
	}
	if res.StatusCode == want {
		return
	}
	var p oapi.Problem
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		fail(fmt.Errorf("%s: %d %s: %s", what, p.Status, p.Code, p.Title))
	}
	fail(fmt.Errorf("%s: status %d", what, res.StatusCode))
}

// newKey is a random UUID for Idempotency-Key.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sdkshop:", err)
	os.Exit(1)
}
