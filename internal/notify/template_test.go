package notify_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/notify"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		line       int
		reason     string
	}{
		{"fine", "Dear {{.Customer.Name}},\nyour invoice {{.Invoice.Number}} of {{.Invoice.Total}} is due in {{.Days}} days.", 0, ""},
		{"conditional", "{{if .Service.PortalURL}}Log in at {{.Service.PortalURL}}{{end}}", 0, ""},
		{"unclosed action", "Hello\n{{.Customer.Name", 2, "unclosed action"},
		{"unknown field", "Hello\n\n{{.Customer.Nickname}}", 3, "Nickname"},
		{"unknown top field", "{{.Discount}}", 1, "Discount"},
		{"unknown function", "{{shout .Customer.Name}}", 1, "shout"},
		{"unterminated if", "{{if .Days}}soon", 1, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := notify.Check("body", tt.text)
			if tt.reason == "" {
				require.NoError(t, err)
				return
			}
			var te *notify.TemplateError
			require.True(t, errors.As(err, &te), "%v", err)
			require.Equal(t, tt.line, te.Line, te.Error())
			require.Contains(t, te.Reason, tt.reason)
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	out, err := notify.Render("subject", "Invoice {{.Invoice.Number}} for {{.Customer.Name}}", notify.Data{
		Customer: notify.Customer{Name: "Ann"}, Invoice: notify.Invoice{Number: "X-1"}})
	require.NoError(t, err)
	require.Equal(t, "Invoice X-1 for Ann", out)
}
