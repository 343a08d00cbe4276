package catalog

import (
	"context"
	"errors"
	"net/mail"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/notify"
	"github.com/acronis-platform/platform/internal/page"
)

// EmailTemplate is a mail the platform sends (suspension, termination,
// credit-limit alerts, invoices...), written as Go text/templates. Kind is
// set on the seeded default of each kind the platform mails (the mailer
// finds it by kind); such a template is editable but cannot be deleted.
// ReplyTo, optional, renders to one address.
type EmailTemplate struct {
	Meta
	Name    string
	Kind    *string
	Subject string
	Body    string
	ReplyTo string
}

// TableName keeps GORM on the migration's table.
func (EmailTemplate) TableName() string { return "email_templates" }

// checkTemplate refuses a subject, body or reply-to that does not parse or
// names an unknown field, saying where; then, rendered on the sample data,
// a subject that is empty or shows the password (subjects are listed in
// the outbox), and a reply-to that is not one address.
func checkTemplate(t EmailTemplate) error {
	for _, part := range []struct{ name, text string }{{"subject", t.Subject}, {"body", t.Body}, {"reply_to", t.ReplyTo}} {
		if err := notify.Check(part.name, part.text); err != nil {
			var te *notify.TemplateError
			if errors.As(err, &te) {
				e := errs.Unprocessable("template_invalid", "The "+te.Part+" template is not valid: "+te.Error())
				e.Fields = []errs.FieldError{{Field: te.Part, Code: "template_invalid", Message: te.Error()}}
				return e
			}
			return errs.Internal(err)
		}
	}
	subject, err := notify.Sample("subject", t.Subject)
	if err != nil {
		return errs.Internal(err)
	}
	if strings.TrimSpace(subject) == "" {
		return templateRule("subject", "subject_empty", "The subject renders to nothing; a mail needs a subject.")
	}
	if strings.Contains(subject, notify.SamplePassword) {
		return templateRule("subject", "password_in_subject", "The subject shows the password; only the body may.")
	}
	replyTo, err := notify.Sample("reply_to", t.ReplyTo)
	if err != nil {
		return errs.Internal(err)
	}
	if r := strings.TrimSpace(replyTo); r != "" {
		if a, err := mail.ParseAddress(r); err != nil || strings.ContainsAny(a.Address, "\r\n") {
			return templateRule("reply_to", "invalid_address", "The reply-to renders to "+quote(r)+", which is not an email address.")
		}
	}
	return nil
}

func templateRule(field, code, msg string) error {
	e := errs.Unprocessable(code, msg)
	e.Fields = []errs.FieldError{{Field: field, Code: code, Message: msg}}
	return e
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "\"" + s + "\""
}

// CreateEmailTemplate adds a checked template with a unique name.
func (s *Service) CreateEmailTemplate(ctx context.Context, name, subject, body, replyTo string) (EmailTemplate, error) {
	t := EmailTemplate{Meta: s.newMeta(ctx), Name: clean(name), Subject: subject, Body: body, ReplyTo: replyTo}
	if err := required("name", t.Name); err != nil {
		return EmailTemplate{}, err
	}
	if err := checkTemplate(t); err != nil {
		return EmailTemplate{}, err
	}
	if err := s.db.WithContext(ctx).Create(&t).Error; err != nil {
		return EmailTemplate{}, storeErr(err, "email template")
	}
	return t, nil
}

// GetEmailTemplate reads a template.
func (s *Service) GetEmailTemplate(ctx context.Context, id uuid.UUID) (EmailTemplate, error) {
	return get[EmailTemplate](ctx, s.db, id, "email template", false)
}

// ListEmailTemplates pages through templates.
func (s *Service) ListEmailTemplates(ctx context.Context, r page.Request) ([]EmailTemplate, string, error) {
	return list(ctx, s.db, "email_templates", r, nil, func(t EmailTemplate) Meta { return t.Meta })
}

// UpdateEmailTemplate changes and re-checks a template.
func (s *Service) UpdateEmailTemplate(ctx context.Context, id uuid.UUID, name, subject, body, replyTo *string, ifVersion *int64) (EmailTemplate, error) {
	return update(ctx, s, id, "email template", ifVersion, func(t *EmailTemplate) *Meta { return &t.Meta }, func(_ *gorm.DB, t *EmailTemplate) error {
		if name != nil {
			t.Name = clean(*name)
		}
		if subject != nil {
			t.Subject = *subject
		}
		if body != nil {
			t.Body = *body
		}
		if replyTo != nil {
			t.ReplyTo = *replyTo
		}
		if err := required("name", t.Name); err != nil {
			return err
		}
		return checkTemplate(*t)
	})
}

// DeleteEmailTemplate removes a template; the default of a kind stays
// (409 template_is_default), since the platform mails with it.
func (s *Service) DeleteEmailTemplate(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	t, err := s.GetEmailTemplate(ctx, id)
	if err != nil {
		return err
	}
	if t.Kind != nil {
		return errs.Conflict("template_is_default", "This template is the default "+*t.Kind+" mail; edit it instead of deleting it.")
	}
	return remove(ctx, s, id, "email template", ifVersion, func(t *EmailTemplate) *Meta { return &t.Meta })
}
