package subscription

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

func opOf(kind string, p OpParams) Operation {
	b, _ := json.Marshal(p)
	return Operation{ID: uuid.New(), Kind: kind, Params: b}
}

// TestSupersedes: a newer operation replaces a failed one exactly when it
// sets something the failed one set.
func TestSupersedes(t *testing.T) {
	qty, login := 3, "renamed"
	plan := uuid.New()
	suspend, unsuspend, expire := opOf(OpSuspend, OpParams{}), opOf(OpUnsuspend, OpParams{}), opOf(OpExpireTrial, OpParams{})
	terminate := opOf(OpTerminate, OpParams{})
	quantity := opOf(OpQuantity, OpParams{Quantity: &qty})
	planChange := opOf(OpPlanChange, OpParams{PlanID: &plan})
	toPaid := opOf(OpPlanChange, OpParams{PlanID: &plan, Production: true, Enable: true})
	reset := opOf(OpResetPassword, OpParams{})
	rename := opOf(OpUpdateCredentials, OpParams{Username: &login})
	newPassword := opOf(OpUpdateCredentials, OpParams{Password: true})
	for _, tt := range []struct {
		name       string
		newer, old Operation
		want       bool
	}{
		{"unsuspend after suspend", unsuspend, suspend, true},
		{"suspend after suspend", suspend, suspend, true},
		{"suspend after unsuspend", suspend, unsuspend, true},
		{"a move to paid enables an expired trial", toPaid, expire, true},
		{"terminate after anything", terminate, quantity, true},
		{"terminate after a reset", terminate, reset, true},
		{"quantity after a plan change", quantity, planChange, true},
		{"plan change after quantity", planChange, quantity, true},
		{"quantity leaves a suspend", quantity, suspend, false},
		{"a plain plan change leaves a suspend", planChange, suspend, false},
		{"a reset after a new password", reset, newPassword, true},
		{"a new password after a reset", newPassword, reset, true},
		{"a reset leaves a rename", reset, rename, false},
		{"a rename leaves a reset", rename, reset, false},
		{"suspend leaves a reset", suspend, reset, false},
	} {
		if got := tt.newer.supersedes(tt.old); got != tt.want {
			t.Errorf("%s: supersedes = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestMatches: an operation runs again only while the platform holds what
// it brings the vendor to.
func TestMatches(t *testing.T) {
	qty, other := 3, 4
	plan, otherPlan := uuid.New(), uuid.New()
	login := "renamed"
	svc := func(status string) Subscription {
		return Subscription{Status: status, Quantity: qty, PlanID: plan, Username: "Renamed"}
	}
	for _, tt := range []struct {
		name string
		op   Operation
		v    Subscription
		want bool
	}{
		{"suspend of a suspended service", opOf(OpSuspend, OpParams{}), svc(StatusSuspended), true},
		{"suspend of a service active again", opOf(OpSuspend, OpParams{}), svc(StatusActive), false},
		{"unsuspend of an active service", opOf(OpUnsuspend, OpParams{}), svc(StatusActive), true},
		{"unsuspend of a suspended service", opOf(OpUnsuspend, OpParams{}), svc(StatusSuspended), false},
		{"trial end of an expired trial", opOf(OpExpireTrial, OpParams{}), svc(StatusExpired), true},
		{"trial end of a trial moved to paid", opOf(OpExpireTrial, OpParams{}), svc(StatusActive), false},
		{"terminate of a terminated service", opOf(OpTerminate, OpParams{}), svc(StatusTerminated), true},
		{"anything else of a terminated service", opOf(OpQuantity, OpParams{Quantity: &qty}), svc(StatusTerminated), false},
		{"the quantity held", opOf(OpQuantity, OpParams{Quantity: &qty}), svc(StatusActive), true},
		{"another quantity", opOf(OpQuantity, OpParams{Quantity: &other}), svc(StatusActive), false},
		{"the plan held", opOf(OpPlanChange, OpParams{PlanID: &plan}), svc(StatusActive), true},
		{"another plan", opOf(OpPlanChange, OpParams{PlanID: &otherPlan}), svc(StatusActive), false},
		{"the login held, any case", opOf(OpUpdateCredentials, OpParams{Username: &login}), svc(StatusActive), true},
		{"a reset of a live service", opOf(OpResetPassword, OpParams{}), svc(StatusSuspended), true},
	} {
		if got := tt.op.matches(tt.v); got != tt.want {
			t.Errorf("%s: matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
