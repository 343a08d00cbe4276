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

// Data is everything a template may use. Amounts and dates come formatted
// ("12.50 USD", "2026-12-01"), as the mail shows them.
type Data struct {
	Company  Company
	Customer Customer
	Service  Service
	Invoice  Invoice
	Payment  Payment
	Days     int
}

// Company is the service provider's venture (or the partner) sending the mail.
type Company struct{ Name string }

// Customer is the addressee; Balance is what it owes unpaid, CreditLimit
// its limit (credit-limit alerts).
type Customer struct{ Name, Email, Balance, CreditLimit string }

// Service is the service the mail is about. LoginURL is the one-click
// login into the vendor portal (service ready); Password is set only on a
// credentials reset, the one mail the domain says carries it.
type Service struct{ Name, Username, PortalURL, LoginURL, Password string }

// Invoice is the invoice the mail is about; Balance is what is left to pay.
type Invoice struct {
	Number, Total, Balance, IssueDate, DueDate, PeriodStart, PeriodEnd string
}

// Payment is a payment received.
type Payment struct{ Amount, Method, Reference, Date string }

// SamplePassword is the password of the sample data: a template whose
// subject shows it would put a password where it is listed in clear.
const SamplePassword = "Sample-Passw0rd-7f3k"

// sample fills every field, so that checking a template runs every branch
// that depends on a field being set.
var sample = Data{
	Company:  Company{Name: "Example Hosting"},
	Customer: Customer{Name: "Jane Doe", Email: "jane@example.com", Balance: "250.00 USD", CreditLimit: "200.00 USD"},
	Service: Service{Name: "Backup 100 GB", Username: "jane", PortalURL: "https://portal.example.com",
		LoginURL: "https://portal.example.com/login", Password: SamplePassword},
	Invoice: Invoice{Number: "BKP-2026-000042", Total: "12.50 USD", Balance: "12.50 USD", IssueDate: "2026-11-24",
		DueDate: "2026-12-01", PeriodStart: "2026-11-01", PeriodEnd: "2026-11-30"},
	Payment: Payment{Amount: "12.50 USD", Method: "bank_transfer", Reference: "TX-1001", Date: "2026-11-25"},
	Days:    7,
}

// Sample renders a template against the sample data (what a check sees).
func Sample(part, text string) (string, error) { return Render(part, text, sample) }

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
