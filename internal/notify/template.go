// Package notify renders and sends the platform's mails. Templates are Go
// text/templates over Data; they are checked when saved, so a mail never
// fails to render when it is due.
package notify

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"text/template"
)

// Data is everything a template may use.
type Data struct {
	Company  Company
	Customer Customer
	Service  Service
	Invoice  Invoice
	Days     int
}

// Company is the service provider (or partner) sending the mail.
type Company struct{ Name string }

// Customer is the addressee.
type Customer struct{ Name, Email string }

// Service is the service the mail is about.
type Service struct{ Name, Username, PortalURL string }

// Invoice is the invoice the mail is about.
type Invoice struct{ Number, Total, DueDate string }

// sample fills every field, so that checking a template runs every branch
// that depends on a field being set.
var sample = Data{
	Company:  Company{Name: "Example Hosting"},
	Customer: Customer{Name: "Jane Doe", Email: "jane@example.com"},
	Service:  Service{Name: "Backup 100 GB", Username: "jane", PortalURL: "https://portal.example.com"},
	Invoice:  Invoice{Number: "BKP-2026-000042", Total: "12.50 USD", DueDate: "2026-12-01"},
	Days:     7,
}

// TemplateError says where a template is wrong.
type TemplateError struct {
	Part   string // subject or body
	Line   int
	Reason string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("%s line %d: %s", e.Part, e.Line, e.Reason)
}

var lineOf = regexp.MustCompile(`:(\d+)(:\d+)?: (.*)$`)

// Check parses a template and renders it against sample data; unknown
// fields and functions are errors.
func Check(part, text string) error {
	_, err := Render(part, text, sample)
	return err
}

// Render executes a template over data.
func Render(part, text string, data Data) (string, error) {
	t, err := template.New(part).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", templateError(part, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", templateError(part, err)
	}
	return b.String(), nil
}

func templateError(part string, err error) *TemplateError {
	msg := err.Error()
	var ee template.ExecError
	if errors.As(err, &ee) {
		msg = ee.Err.Error()
	}
	te := &TemplateError{Part: part, Line: 1, Reason: msg}
	if m := lineOf.FindStringSubmatch(msg); m != nil {
		te.Line, _ = strconv.Atoi(m[1])
		te.Reason = m[3]
	}
	return te
}
