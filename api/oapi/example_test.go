package oapi_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/acronis-platform/platform/api/oapi"
)

// A storefront's anonymous order: read the offer of an order URL, place the
// order, then poll its status with the token the placing returned until
// the buyer can sign in.
func Example_storefrontOrder() {
	ctx := context.Background()
	c, err := oapi.NewClientWithResponses("https://billing.example.com")
	if err != nil {
		log.Fatal(err)
	}
	offer, err := c.GetStorefrontOfferWithResponse(ctx, "q3Zt9vX0bN1mK7pL2sR8wY4cD6fH5jA0")
	if err != nil || offer.JSON200 == nil {
		log.Fatalf("offer: %v %s", err, offer.Body)
	}
	fmt.Println(offer.JSON200.PlanName, offer.JSON200.Price.Amount, offer.JSON200.Price.Currency)

	placed, err := c.PlaceStorefrontOrderWithResponse(ctx,
		&oapi.PlaceStorefrontOrderParams{IdempotencyKey: uuid.NewString()}, // the same key on a retry
		oapi.StorefrontOrderCreate{Token: offer.JSON200.Token, Username: "contoso-admin",
			Customer: &oapi.NewCustomer{Name: "Contoso Ltd", Email: "it@contoso.example"}})
	if err != nil || placed.JSON202 == nil {
		log.Fatalf("order: %v %s", err, placed.Body)
	}
	order := *placed.JSON202
	for order.Status != oapi.OrderStatusCompleted && order.Status != oapi.OrderStatusFailed && order.Status != oapi.OrderStatusCancelled {
		time.Sleep(5 * time.Second)
		read, err := c.GetStorefrontOrderWithResponse(ctx, order.Id, &oapi.GetStorefrontOrderParams{Token: *placed.JSON202.StatusToken})
		if err != nil || read.JSON200 == nil {
			log.Fatalf("status: %v %s", err, read.Body)
		}
		order = *read.JSON200
	}
	if order.Login != nil {
		fmt.Println(order.Login.Instructions) // the portal URL and the login
	}
	if order.Password != nil {
		fmt.Println("password:", *order.Password) // in the first read only
	}
}
