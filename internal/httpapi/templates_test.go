package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

func TestEmailTemplates(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	name := uniq("Suspension")
	created, err := admin.CreateEmailTemplateWithResponse(ctx, nil, oapi.EmailTemplateCreate{
		Name: name, Subject: "{{.Service.Name}} is suspended", Body: "Dear {{.Customer.Name}},\npay {{.Invoice.Total}} within {{.Days}} days."})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))

	tests := []struct {
		name, subject, body string
		status              int
		code, field         string
		line                string
	}{
		{"body does not parse", "Hi", "Hello\n{{.Customer.Name", 422, "template_invalid", "body", "body line 2"},
		{"unknown field in body", "Hi", "Hello\n\n{{.Customer.Nickname}}", 422, "template_invalid", "body", "body line 3"},
		{"unknown field in subject", "{{.Plan.Name}}", "Hi", 422, "template_invalid", "subject", "subject line 1"},
		{"name taken", "Hi", "Hi", 409, "email_template_taken", "", ""},
	}
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	t.Run("refused", func(t *testing.T) { // finishes before the template is deleted below
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				n := uniq("T")
				if tt.code == "email_template_taken" {
					n = name
				}
				body, _ := json.Marshal(map[string]string{"name": n, "subject": tt.subject, "body": tt.body})
				status, h, b := raw(t, "POST", env.Server.URL+"/v1/email-templates", tok, "application/json", string(body))
				p := requireProblem(t, status, h, b, tt.status, tt.code)
				if tt.field != "" {
					require.Equal(t, tt.field, p.Errors[0].Field)
					require.Contains(t, string(b), tt.line)
				}
			})
		}
	})

	bad := "{{.Nope}}"
	upd, err := admin.UpdateEmailTemplateWithResponse(ctx, created.JSON201.Id, nil, oapi.EmailTemplateUpdate{Body: &bad})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, upd.StatusCode())
	got, err := admin.GetEmailTemplateWithResponse(ctx, created.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.JSON200.Version, "a refused update changes nothing")

	partnerOnly := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, ptr(env.NewPartner(t)), nil)))
	forbidden, err := partnerOnly.ListEmailTemplatesWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, forbidden.StatusCode())

	del, err := admin.DeleteEmailTemplateWithResponse(ctx, created.JSON201.Id, &oapi.DeleteEmailTemplateParams{IfMatch: ptr(`"1"`)})
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, del.StatusCode())
}

// TestEmailTemplateRenderRules: rendered on sample data, a template whose
// subject is empty or shows the password, or whose reply-to is not one
// address, is refused on create and on update, naming the field.
func TestEmailTemplateRenderRules(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	tests := []struct {
		name, subject, replyTo string
		status                 int
		code, field            string
	}{
		{"subject renders empty", "{{if false}}x{{end}}", "", 422, "subject_empty", "subject"},
		{"subject renders blank", "{{if .Days}} {{end}}", "", 422, "subject_empty", "subject"},
		{"subject shows the password", "Your password: {{.Service.Password}}", "", 422, "password_in_subject", "subject"},
		{"reply-to renders a name", "Hi", "{{.Customer.Name}}", 422, "invalid_address", "reply_to"},
		{"reply-to renders two addresses", "Hi", "a@example.com, b@example.com", 422, "invalid_address", "reply_to"},
		{"reply-to does not parse", "Hi", "{{.Customer.Email", 422, "template_invalid", "reply_to"},
		{"reply-to of the customer", "Hi", "{{.Customer.Email}}", 201, "", ""},
		{"reply-to with a name", "Hi", "Billing <billing@example.com>", 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, _ := json.Marshal(map[string]string{"name": uniq("R"), "subject": tt.subject, "body": "Hello", "reply_to": tt.replyTo})
			status, h, b := raw(t, "POST", env.Server.URL+"/v1/email-templates", tok, "application/json", string(body))
			if tt.status == 201 {
				require.Equal(t, 201, status, string(b))
				return
			}
			p := requireProblem(t, status, h, b, tt.status, tt.code)
			require.Equal(t, tt.field, p.Errors[0].Field)
		})
	}

	created, err := admin.CreateEmailTemplateWithResponse(ctx, nil, oapi.EmailTemplateCreate{Name: uniq("Patched"), Subject: "Hi", Body: "Hello"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode())
	require.Nil(t, created.JSON201.Kind, "the SP's own template has no kind")
	for _, patch := range []oapi.EmailTemplateUpdate{{Subject: ptr("{{if false}}x{{end}}")}, {ReplyTo: ptr("not an address")}} {
		upd, err := admin.UpdateEmailTemplateWithResponse(ctx, created.JSON201.Id, nil, patch)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnprocessableEntity, upd.StatusCode(), string(upd.Body))
	}
	got, err := admin.GetEmailTemplateWithResponse(ctx, created.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.JSON200.Version, "a refused update changes nothing")
}

// TestDefaultEmailTemplates: every mail kind has a seeded default, valid,
// editable, and not deletable.
func TestDefaultEmailTemplates(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	kinds := map[string]oapi.EmailTemplate{}
	var cursor *string
	for {
		res, err := admin.ListEmailTemplatesWithResponse(ctx, &oapi.ListEmailTemplatesParams{Limit: ptr(200), Cursor: cursor})
		require.NoError(t, err)
		for _, tpl := range res.JSON200.Data {
			if tpl.Kind != nil {
				kinds[*tpl.Kind] = tpl
			}
		}
		if !res.JSON200.HasMore {
			break
		}
		cursor = res.JSON200.NextCursor
	}
	for _, k := range []string{"invoice_issued", "payment_received", "overage_invoice", "postpaid_invoice", "service_ready",
		"credentials_reset", "suspension_notice", "termination_notice", "credit_limit_alert"} {
		require.Contains(t, kinds, k)
	}
	for k, tpl := range kinds {
		// Each default passes the checks of a save: it is editable as seeded.
		upd, err := admin.UpdateEmailTemplateWithResponse(ctx, tpl.Id, nil, oapi.EmailTemplateUpdate{Subject: &tpl.Subject, Body: &tpl.Body})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, upd.StatusCode(), "%s: %s", k, upd.Body)
		require.Equal(t, k, *upd.JSON200.Kind)
	}
	require.Contains(t, kinds["credentials_reset"].Body, "{{.Service.Password}}", "the reset mail carries the new password")
	require.NotContains(t, kinds["service_ready"].Body, "Password", "the ready mail never does")
	require.Contains(t, kinds["service_ready"].Body, "{{.Service.LoginURL}}")

	// Deleting a default is refused; it stays the one the platform mails with.
	def := kinds["termination_notice"]
	del, err := admin.DeleteEmailTemplateWithResponse(ctx, def.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, del.StatusCode())
	require.Contains(t, string(del.Body), "template_is_default")
}
