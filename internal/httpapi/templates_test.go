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
