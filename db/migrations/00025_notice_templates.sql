-- +goose Up
-- The default suspension and termination notices spoke of an overdue
-- invoice in every case; a service suspended or terminated by hand has
-- none, and the mail read "invoice  of  is 0 days past due". They now name
-- the invoice only when there is one. Templates the SP has edited
-- (another body) are left alone.
UPDATE email_templates
SET body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is suspended{{if .Invoice.Number}}: invoice {{.Invoice.Number}} of {{.Invoice.Total}} is {{.Days}} days past due. Paying it restores the service.{{else}}.{{end}}\n\n{{.Company.Name}}\n',
    version = version + 1, updated_at = now()
WHERE kind = 'suspension_notice'
  AND body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is suspended: invoice {{.Invoice.Number}} of {{.Invoice.Total}} is {{.Days}} days past due. Paying it restores the service.\n\n{{.Company.Name}}\n';

UPDATE email_templates
SET body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is terminated and its backups deleted{{if .Invoice.Number}}: invoice {{.Invoice.Number}} of {{.Invoice.Total}} stayed unpaid {{.Days}} days past due{{end}}.\n\n{{.Company.Name}}\n',
    version = version + 1, updated_at = now()
WHERE kind = 'termination_notice'
  AND body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is terminated and its backups deleted: invoice {{.Invoice.Number}} of {{.Invoice.Total}} stayed unpaid {{.Days}} days past due.\n\n{{.Company.Name}}\n';

-- +goose Down
UPDATE email_templates
SET body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is suspended: invoice {{.Invoice.Number}} of {{.Invoice.Total}} is {{.Days}} days past due. Paying it restores the service.\n\n{{.Company.Name}}\n',
    version = version + 1, updated_at = now()
WHERE kind = 'suspension_notice'
  AND body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is suspended{{if .Invoice.Number}}: invoice {{.Invoice.Number}} of {{.Invoice.Total}} is {{.Days}} days past due. Paying it restores the service.{{else}}.{{end}}\n\n{{.Company.Name}}\n';

UPDATE email_templates
SET body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is terminated and its backups deleted: invoice {{.Invoice.Number}} of {{.Invoice.Total}} stayed unpaid {{.Days}} days past due.\n\n{{.Company.Name}}\n',
    version = version + 1, updated_at = now()
WHERE kind = 'termination_notice'
  AND body = E'Dear {{.Customer.Name}},\n\n{{.Service.Name}} is terminated and its backups deleted{{if .Invoice.Number}}: invoice {{.Invoice.Number}} of {{.Invoice.Total}} stayed unpaid {{.Days}} days past due{{end}}.\n\n{{.Company.Name}}\n';
