package event_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/event"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// Another package records an event of its own type (as webhooks records
// webhook_endpoint.disabled) in its transaction: kept when it commits,
// gone when it rolls back, told to OnRecord hooks, scoped to its owner.
func TestRecordInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	db := pgtest.Open(t, clk)
	svc := event.NewService(db.Gorm, clk)
	var told []string
	svc.OnRecord(func(_ context.Context, _ *gorm.DB, ev event.Event) error {
		told = append(told, ev.Type)
		return nil
	})
	ctx := context.Background()
	partnerID, otherID := uuid.New(), uuid.New()
	record := func(endpoint uuid.UUID, fail bool) error {
		return db.Gorm.Transaction(func(tx *gorm.DB) error {
			ev, err := event.New(event.WebhookEndpointDisabled, event.ResourceWebhookEndpoint, endpoint, &partnerID, nil,
				map[string]any{"id": endpoint, "enabled": false})
			if err != nil {
				return err
			}
			if _, err := svc.Record(ctx, tx, ev); err != nil {
				return err
			}
			if fail {
				return errors.New("the change fails after its event")
			}
			return nil
		})
	}
	kept, lost := uuid.New(), uuid.New()
	require.NoError(t, record(kept, false))
	require.Error(t, record(lost, true))
	require.Equal(t, []string{event.WebhookEndpointDisabled, event.WebhookEndpointDisabled}, told, "hooks run in the transaction, before it ends")

	tests := []struct {
		name string
		who  auth.Principal
		want []uuid.UUID
	}{
		{"admin", auth.Principal{Role: auth.RoleAdmin}, []uuid.UUID{kept}},
		{"owner", auth.Principal{Role: auth.RolePartner, PartnerID: &partnerID}, []uuid.UUID{kept}},
		{"another partner", auth.Principal{Role: auth.RolePartner, PartnerID: &otherID}, nil},
		{"a customer", auth.Principal{Role: auth.RoleCustomer, CustomerID: &otherID}, nil},
		{"no role", auth.Principal{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, id := range []uuid.UUID{kept, lost} {
				rows, next, err := svc.List(ctx, tt.who, event.Filter{ResourceID: &id}, event.Page{Limit: 10})
				require.NoError(t, err)
				require.Empty(t, next)
				var got []uuid.UUID
				for _, r := range rows {
					got = append(got, r.ResourceID)
					require.JSONEq(t, `{"id":"`+id.String()+`","enabled":false}`, string(r.Payload))
					_, err := svc.Get(ctx, tt.who, r.ID)
					require.NoError(t, err)
				}
				if id == kept {
					require.Equal(t, tt.want, got)
				} else {
					require.Empty(t, got, "a rolled back change leaves no event")
				}
			}
		})
	}
}

// Pages follow the order events were written in; the cursor of a page
// stays valid after more are written.
func TestListPagesInWrittenOrder(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	db := pgtest.Open(t, clk)
	svc := event.NewService(db.Gorm, clk)
	ctx := context.Background()
	resource := uuid.New()
	write := func(typ string) {
		ev, err := event.New(typ, event.ResourceService, resource, nil, nil, map[string]any{"t": typ})
		require.NoError(t, err)
		_, err = svc.Record(ctx, db.Gorm, ev)
		require.NoError(t, err)
	}
	all := []string{event.ServiceSuspended, event.ServiceUnsuspended, event.ServiceQuantityChanged}
	for _, typ := range all {
		write(typ)
	}
	admin := auth.Principal{Role: auth.RoleAdmin}
	f := event.Filter{ResourceID: &resource}
	first, next, err := svc.List(ctx, admin, f, event.Page{Limit: 2})
	require.NoError(t, err)
	require.Len(t, first, 2)
	require.NotEmpty(t, next)
	write(event.ServiceTerminated)
	p, err := event.ParsePage(nil, &next)
	require.NoError(t, err)
	rest, last, err := svc.List(ctx, admin, f, event.Page{Limit: 10, After: p.After})
	require.NoError(t, err)
	require.Empty(t, last)
	var got []string
	for _, e := range append(first, rest...) {
		got = append(got, e.Type)
	}
	require.Equal(t, append(all, event.ServiceTerminated), got)

	_, _, err = svc.List(ctx, admin, event.Filter{Types: []string{"service.eaten"}}, event.Page{Limit: 10})
	require.Equal(t, errs.KindInvalid, errs.KindOf(err))
	require.Equal(t, "type", errs.As(err).Fields[0].Field)
}
