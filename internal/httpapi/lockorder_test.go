package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
)

// TestServiceChangeWhilePlanDeleted runs a change of a service while its
// plan is being deleted, in the order that once deadlocked: the delete has
// the plan and is about to check that no service uses it, while the change
// holds the service and waits for the plan (the foreign key check of its
// second update of the row). The change must go through and the delete
// answer 409 in_use; before, PostgreSQL broke the deadlock and one of the
// two answered 500.
func TestServiceChangeWhilePlanDeleted(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	db := s.env.App.DB.Gorm

	type call func(id uuid.UUID) (int, string)
	suspend := func(id uuid.UUID) (int, string) {
		r, err := s.admin.SuspendServiceWithResponse(ctx, id, nil)
		require.NoError(t, err)
		return r.StatusCode(), string(r.Body)
	}
	cases := []struct {
		name string
		prep call // before the race, on the service
		act  call
	}{
		{name: "suspend", act: suspend},
		{name: "unsuspend", prep: suspend, act: func(id uuid.UUID) (int, string) {
			r, err := s.admin.UnsuspendServiceWithResponse(ctx, id, nil)
			require.NoError(t, err)
			return r.StatusCode(), string(r.Body)
		}},
		{name: "terminate", act: func(id uuid.UUID) (int, string) {
			r, err := s.admin.TerminateServiceWithResponse(ctx, id, nil)
			require.NoError(t, err)
			return r.StatusCode(), string(r.Body)
		}},
		{name: "reset credentials", act: func(id uuid.UUID) (int, string) {
			r, err := s.admin.ResetServiceCredentialsWithResponse(ctx, id)
			require.NoError(t, err)
			return r.StatusCode(), string(r.Body)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			planID, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
			svc := s.activeService(t, token).ServiceId
			if tc.prep != nil {
				code, body := tc.prep(svc)
				require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, code, body)
			}

			// The blocker holds the plan's prices, which the delete
			// removes (cascade) after it has the plan and before it
			// looks for services on it.
			blocker := db.Begin()
			defer blocker.Rollback()
			var blockerPID int
			require.NoError(t, blocker.Raw("SELECT pg_backend_pid()").Scan(&blockerPID).Error)
			require.NoError(t, blocker.Exec("SELECT 1 FROM plan_cycles WHERE plan_id = ? FOR KEY SHARE", planID).Error)

			type answer struct {
				code int
				body string
			}
			deleted := make(chan answer, 1)
			go func() {
				r, err := s.admin.DeletePlanWithResponse(ctx, planID, nil)
				if err != nil {
					deleted <- answer{body: err.Error()}
					return
				}
				deleted <- answer{r.StatusCode(), string(r.Body)}
			}()
			deleter := waitBlocked(t, db, blockerPID, `DELETE FROM "plans"%`)

			changed := make(chan answer, 1)
			go func() {
				code, body := tc.act(svc)
				changed <- answer{code, body}
			}()
			waitBlocked(t, db, deleter, `UPDATE "services"%`)
			require.NoError(t, blocker.Rollback().Error)

			del, ch := <-deleted, <-changed
			require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, ch.code, ch.body)
			require.Equal(t, http.StatusConflict, del.code, del.body)
			require.Contains(t, del.body, `"in_use"`)
		})
	}
}

// TestDeadlockAnswersConcurrentChange makes a suspend deadlock with
// another transaction (it holds the service and waits for its plan, the
// other holds the plan and asks for the service) and PostgreSQL give up on
// the suspend: it answers 409 concurrent_change, not 500, having changed
// nothing, and the same request sent again goes through.
func TestDeadlockAnswersConcurrentChange(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	db := s.env.App.DB.Gorm
	planID, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
	svc := s.activeService(t, token).ServiceId

	other := db.Begin()
	defer other.Rollback()
	var otherPID int
	require.NoError(t, other.Raw("SELECT pg_backend_pid()").Scan(&otherPID).Error)
	// The other never looks for the deadlock: the suspend, waiting first,
	// finds it and is the one given up on.
	require.NoError(t, other.Exec("SET LOCAL deadlock_timeout = '10min'").Error)
	require.NoError(t, other.Exec("SELECT 1 FROM plans WHERE id = ? FOR UPDATE", planID).Error)

	type answer struct {
		code int
		body string
	}
	suspended := make(chan answer, 1)
	go func() {
		r, err := s.admin.SuspendServiceWithResponse(ctx, svc, nil)
		if err != nil {
			suspended <- answer{body: err.Error()}
			return
		}
		suspended <- answer{r.StatusCode(), string(r.Body)}
	}()
	waitBlocked(t, db, otherPID, `UPDATE "services"%`)
	require.NoError(t, other.Exec("UPDATE services SET updated_at = updated_at WHERE id = ?", svc).Error)
	require.NoError(t, other.Rollback().Error)

	first := <-suspended
	require.Equal(t, http.StatusConflict, first.code, first.body)
	require.Contains(t, first.body, `"concurrent_change"`)
	var status string
	require.NoError(t, db.Raw("SELECT status FROM services WHERE id = ?", svc).Scan(&status).Error)
	require.Equal(t, "active", status, "the refused suspend changed nothing")

	again, err := s.admin.SuspendServiceWithResponse(ctx, svc, nil)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, again.StatusCode(), string(again.Body))
}

// waitBlocked waits until a statement like query of this database waits
// for a lock that blocker holds, and returns its backend's pid.
func waitBlocked(t *testing.T, db *gorm.DB, blocker int, query string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pids []int
		require.NoError(t, db.Raw(`SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE ? AND ? = ANY (pg_blocking_pids(pid))`, query, blocker).
			Scan(&pids).Error)
		if len(pids) > 0 {
			return pids[0]
		}
		require.True(t, time.Now().Before(deadline), "no %q waits for backend %d", query, blocker)
		time.Sleep(20 * time.Millisecond)
	}
}
