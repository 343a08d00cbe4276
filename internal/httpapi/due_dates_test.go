package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// An order's next due date is one cycle on, the day clamped to the month's
// end: ordered on 31 January, due on the last day of February, in a leap
// year too; a post-paid service is due on the 1st.
func TestOrderDueDatesOnMonthEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, at string
		model    oapi.BillingModel
		due      string
	}{
		{"prepaid, 31 January", "2026-01-31T10:00:00Z", oapi.BillingModelPrepaid, "2026-02-28"},
		{"prepaid, 31 January of a leap year", "2028-01-31T10:00:00Z", oapi.BillingModelPrepaid, "2028-02-29"},
		{"prepaid, 29 February", "2028-02-29T10:00:00Z", oapi.BillingModelPrepaid, "2028-03-29"},
		{"prepaid, 31 March", "2026-03-31T10:00:00Z", oapi.BillingModelPrepaid, "2026-04-30"},
		{"prepaid, 31 December", "2026-12-31T10:00:00Z", oapi.BillingModelPrepaid, "2027-01-31"},
		{"post-paid, 31 January", "2026-01-31T10:00:00Z", oapi.BillingModelPostpaidFixed, "2026-02-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t)
			ctx := context.Background()
			_, token := s.plan(t, planOpts{model: tt.model, autoApprove: true})
			at, err := time.Parse(time.RFC3339, tt.at)
			require.NoError(t, err)
			s.env.Clock.Set(at)
			admin, _ := s.env.Admin(t) // a token of that day
			res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
			require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
			if tt.model == oapi.BillingModelPrepaid {
				invs := invoicesOf(t, admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
				require.Len(t, invs, 1)
				require.Equal(t, at.Format(time.DateOnly), invs[0].IssueDate.Format(time.DateOnly))
				paid := pay(t, admin, invs[0].Id, invs[0].Total.Amount)
				require.Equal(t, http.StatusCreated, paid.StatusCode(), string(paid.Body))
			}
			done := completedOrder(t, admin, res.JSON202)
			svc, err := admin.GetServiceWithResponse(ctx, done.ServiceId)
			require.NoError(t, err)
			require.NotNil(t, svc.JSON200.NextDueDate)
			require.Equal(t, tt.due, svc.JSON200.NextDueDate.Format(time.DateOnly))
		})
	}
}
