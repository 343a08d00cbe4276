package catalog

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/notify"
	"github.com/acronis-platform/platform/internal/page"
)

// EmailTemplate is a mail the platform sends (suspension, termination,
// credit-limit alerts), written as Go text/templates.
type EmailTemplate struct {
	Meta
	Name    string
	Subject string
	Body    string
}

// TableName keeps GORM on the migration's table.
func (EmailTemplate) TableName() string { return "email_templates" }

// checkTemplate refuses a subject or body that does not parse or names an
// unknown field, saying where.
func checkTemplate(t EmailTemplate) error {
	for _, part := range []struct{ name, text string }{{"subject", t.Subject}, {"body", t.Body}} {
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
	return nil
}

// CreateEmailTemplate adds a checked template with a unique name.
func (s *Service) CreateEmailTemplate(ctx context.Context, name, subject, body string) (EmailTemplate, error) {
	t := EmailTemplate{Meta: s.newMeta(ctx), Name: clean(name), Subject: subject, Body: body}
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
func (s *Service) UpdateEmailTemplate(ctx context.Context, id uuid.UUID, name, subject, body *string, ifVersion *int64) (EmailTemplate, error) {
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
		if err := required("name", t.Name); err != nil {
			return err
		}
		return checkTemplate(*t)
	})
}

// DeleteEmailTemplate removes a template.
func (s *Service) DeleteEmailTemplate(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "email template", ifVersion, func(t *EmailTemplate) *Meta { return &t.Meta })
}
