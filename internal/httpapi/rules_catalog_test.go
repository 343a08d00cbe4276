package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

// What a plan uses cannot be deleted while it does (409 in_use): its
// venture, its product group and the email templates of its notification
// settings. Each stays as it was; once the plan is gone, each goes.
func TestInUseRules(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan(uniq("Uses"), false))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, plan.StatusCode(), string(plan.Body))
	template := func(name string) uuid.UUID {
		res, err := admin.CreateEmailTemplateWithResponse(ctx, nil, oapi.EmailTemplateCreate{Name: uniq(name), Subject: name, Body: "{{.Service.Name}}"})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		return res.JSON201.Id
	}
	suspension, termination, creditLimit := template("Suspended"), template("Terminated"), template("Over the limit")
	set, err := admin.SetPlanNotificationSettingsWithResponse(ctx, plan.JSON201.Id, oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30,
		SuspensionTemplateId: &suspension, TerminationTemplateId: &termination, CreditLimitTemplateId: &creditLimit})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))

	type result struct {
		status int
		header http.Header
		body   []byte
	}
	tests := []struct {
		name string
		del  func() result
		// get reads the row back: its status and version.
		get func() (int, int64)
	}{
		{"the plan's venture", func() result {
			r, err := admin.DeleteVentureWithResponse(ctx, c.venture, nil)
			require.NoError(t, err)
			return result{r.StatusCode(), r.HTTPResponse.Header, r.Body}
		}, func() (int, int64) {
			r, err := admin.GetVentureWithResponse(ctx, c.venture)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			return r.StatusCode(), r.JSON200.Version
		}},
		{"the plan's product group", func() result {
			r, err := admin.DeleteProductGroupWithResponse(ctx, c.group, nil)
			require.NoError(t, err)
			return result{r.StatusCode(), r.HTTPResponse.Header, r.Body}
		}, func() (int, int64) {
			r, err := admin.GetProductGroupWithResponse(ctx, c.group)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			return r.StatusCode(), r.JSON200.Version
		}},
	}
	for _, tpl := range []struct {
		name string
		id   uuid.UUID
	}{{"the suspension template", suspension}, {"the termination template", termination}, {"the credit-limit template", creditLimit}} {
		tests = append(tests, struct {
			name string
			del  func() result
			get  func() (int, int64)
		}{tpl.name, func() result {
			r, err := admin.DeleteEmailTemplateWithResponse(ctx, tpl.id, nil)
			require.NoError(t, err)
			return result{r.StatusCode(), r.HTTPResponse.Header, r.Body}
		}, func() (int, int64) {
			r, err := admin.GetEmailTemplateWithResponse(ctx, tpl.id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			return r.StatusCode(), r.JSON200.Version
		}})
	}
	t.Run("refused", func(t *testing.T) { // all done before the plan goes
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, version := tt.get()
				res := tt.del()
				p := requireProblem(t, res.status, res.header, res.body, http.StatusConflict, "in_use")
				requireField(t, p, "")
				status, after := tt.get()
				require.Equal(t, http.StatusOK, status)
				require.Equal(t, version, after, "nothing changed")
			})
		}
	})
	t.Run("free once the plan is gone", func(t *testing.T) {
		d, err := admin.DeletePlanWithResponse(ctx, plan.JSON201.Id, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, d.StatusCode(), string(d.Body))
		for _, tt := range tests {
			res := tt.del()
			require.Equal(t, http.StatusNoContent, res.status, "%s: %s", tt.name, res.body)
		}
	})
}
