package acronis

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Report kinds and formats.
const (
	ReportDaily   = "usage_daily"
	ReportSummary = "usage_summary"
	ReportCurrent = "usage_current"
	FormatCSV     = "csv_v2_0"
	FormatJSON    = "json_v2_0"
)

// ReportRequest asks for a one-time usage report, saved for download.
type ReportRequest struct {
	TenantID string
	Level    string // itself, direct_partners, all_partners, all_customers, accounts
	Kind     string
	Formats  []string
	Start    string // YYYY-MM-DD; empty for usage_current
	End      string
	HideZero bool
}

// Report is a created report.
type Report struct {
	ID             string `json:"id"`
	Version        int64  `json:"version"`
	GenerationDate string `json:"generation_date"`
	ResultAction   string `json:"result_action"`
}

// StoredReport is one generated file of a report.
type StoredReport struct {
	ID        string `json:"id"`
	Format    string `json:"report_format"`
	Status    string `json:"status"` // in_progress, saved, failed
	Size      int64  `json:"size"`
	CreatedAt string `json:"created_at"`
}

// CreateReport asks the vendor to build a report. A duplicate report is
// harmless, so the call is retried.
func (c *Client) CreateReport(ctx context.Context, r ReportRequest) (Report, error) {
	params := map[string]any{"tenant_id": r.TenantID, "level": r.Level, "kind": r.Kind, "hide_zero_usage": r.HideZero}
	if len(r.Formats) > 0 {
		params["formats"] = r.Formats
	}
	if r.Start != "" || r.End != "" {
		params["period"] = map[string]string{"start": r.Start, "end": r.End}
	}
	body := map[string]any{"parameters": params, "schedule": map[string]string{"type": "once"}, "result_action": "save"}
	var out Report
	err := c.do(ctx, call{method: http.MethodPost, path: "/reports", body: body, out: &out, retry: true})
	return out, err
}

// StoredReports lists a report's files and their state.
func (c *Client) StoredReports(ctx context.Context, reportID string) ([]StoredReport, error) {
	var out list[StoredReport]
	err := c.do(ctx, call{method: http.MethodGet, path: "/reports/" + url.PathEscape(reportID) + "/stored", out: &out, retry: true})
	return out.Items, err
}

// ErrReportFailed is returned when the vendor gave up building a report.
var ErrReportFailed = errors.New("acronis: report generation failed")

// WaitReport polls until the file in format is saved (or failed), every
// interval, until ctx ends.
func (c *Client) WaitReport(ctx context.Context, reportID, format string, interval time.Duration) (StoredReport, error) {
	for {
		items, err := c.StoredReports(ctx, reportID)
		if err != nil {
			return StoredReport{}, err
		}
		for _, it := range items {
			if it.Format != format {
				continue
			}
			switch it.Status {
			case "saved":
				return it, nil
			case "failed":
				return it, ErrReportFailed
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return StoredReport{}, ctx.Err()
		case <-t.C:
		}
	}
}

// DownloadReport fetches a stored file, un-gzipped.
func (c *Client) DownloadReport(ctx context.Context, reportID, storedID string) ([]byte, error) {
	var b []byte
	err := c.do(ctx, call{method: http.MethodGet, path: "/reports/" + url.PathEscape(reportID) + "/stored/" + url.PathEscape(storedID),
		raw: &b, retry: true})
	if err != nil {
		return nil, err
	}
	// The vendor stores files gzip-compressed; the HTTP layer undoes a
	// Content-Encoding it asked for, but not a compressed payload.
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("acronis: report is not valid gzip: %w", err)
		}
		defer zr.Close()
		if b, err = io.ReadAll(io.LimitReader(zr, 512<<20)); err != nil {
			return nil, fmt.Errorf("acronis: report is not valid gzip: %w", err)
		}
	}
	return b, nil
}

// StreamReport fetches a stored file and hands fn its content, un-gzipped,
// as it arrives: nothing of it is held, so a report of any size can be
// scanned row by row (ScanCSV). A failure before the content arrives is
// retried; one while fn reads it (fn's own error included) is returned.
func (c *Client) StreamReport(ctx context.Context, reportID, storedID string, fn func(io.Reader) error) error {
	return c.do(ctx, call{method: http.MethodGet, path: "/reports/" + url.PathEscape(reportID) + "/stored/" + url.PathEscape(storedID),
		retry: true, stream: func(body io.Reader) error {
			br := bufio.NewReader(body)
			// As DownloadReport: a compressed payload is un-gzipped here.
			if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
				zr, err := gzip.NewReader(br)
				if err != nil {
					return fmt.Errorf("acronis: report is not valid gzip: %w", err)
				}
				defer zr.Close()
				return fn(zr)
			}
			return fn(br)
		}})
}

// DeleteReport removes a report.
func (c *Client) DeleteReport(ctx context.Context, id string, version int64) error {
	err := c.do(ctx, call{method: http.MethodDelete, path: "/reports/" + url.PathEscape(id),
		query: url.Values{"version": {strconv.FormatInt(version, 10)}}, ok: []int{http.StatusNoContent}, retry: true})
	if IsStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// Amounts of one report row: absolute (at the date), delta (over the
// period) and effective, each split production/trial.
type Amounts struct {
	Total, Production, Trial decimal.Decimal
}

// UsageRow is one line of a usage report: a tenant's item on a date.
type UsageRow struct {
	Date            string
	TenantID        string
	TenantName      string
	TenantKind      string
	ParentID        string
	ApplicationID   string
	Name            string // offering item name
	Edition         string
	UsageName       string
	MeasurementUnit string
	InfraID         string
	Absolute        Amounts
	Delta           Amounts
	Effective       Amounts
}

// ParseCSV reads a csv_v2_0 report by column name, so extra or reordered
// columns do not matter. application.id, tenant.id and name are required.
func ParseCSV(r io.Reader) ([]UsageRow, error) {
	var rows []UsageRow
	err := ScanCSV(r, func(u UsageRow) error {
		rows = append(rows, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// ScanCSV reads a csv_v2_0 report as ParseCSV does, handing each row to
// fn as it is read, so a report of any size is never held whole; an error
// from fn stops the scan and is returned.
func ScanCSV(r io.Reader, fn func(UsageRow) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("acronis: csv report header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"application.id", "tenant.id", "name"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("acronis: csv report lacks column %s", need)
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("acronis: csv report line %d: %w", line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		row := UsageRow{
			Date: get("date"), TenantID: get("tenant.id"), TenantName: get("tenant.name"), TenantKind: get("tenant.kind"),
			ParentID: get("tenant.parent_id"), ApplicationID: get("application.id"), Name: get("name"),
			Edition: get("edition"), UsageName: get("usage_name"), MeasurementUnit: get("measurement_unit"), InfraID: get("infra.id"),
		}
		if row.ApplicationID == "" || row.TenantID == "" || row.Name == "" {
			return fmt.Errorf("acronis: csv report line %d: application.id, tenant.id and name are required", line)
		}
		if row.Edition == "" {
			row.Edition = "standard"
		}
		for _, a := range []struct {
			prefix string
			into   *Amounts
		}{{"usage.absolute.", &row.Absolute}, {"usage.delta.", &row.Delta}, {"usage.effective.", &row.Effective}} {
			for _, f := range []struct {
				name string
				into *decimal.Decimal
			}{{"total", &a.into.Total}, {"production", &a.into.Production}, {"trial", &a.into.Trial}} {
				v, err := amount(get(a.prefix + f.name))
				if err != nil {
					return fmt.Errorf("acronis: csv report line %d, %s%s: %w", line, a.prefix, f.name, err)
				}
				*f.into = v
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

func amount(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Zero, nil
	}
	return decimal.NewFromString(s)
}

type jsonAmounts struct {
	Total      decimal.Decimal `json:"total"`
	Production decimal.Decimal `json:"production"`
	Trial      decimal.Decimal `json:"trial"`
}

// ParseJSON reads a json_v2_0 report into the same rows as ParseCSV.
func ParseJSON(b []byte) ([]UsageRow, error) {
	var doc struct {
		Tenants []struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Kind     string `json:"kind"`
			ParentID string `json:"parent_id"`
			Usages   []struct {
				Date            string      `json:"date"`
				ApplicationID   string      `json:"application_id"`
				Name            string      `json:"name"`
				Edition         *string     `json:"edition"`
				UsageName       string      `json:"usage_name"`
				MeasurementUnit string      `json:"measurement_unit"`
				InfraID         *string     `json:"infra_id"`
				Absolute        jsonAmounts `json:"absolute"`
				Delta           jsonAmounts `json:"delta"`
				Effective       jsonAmounts `json:"effective"`
			} `json:"usages"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("acronis: json report: %w", err)
	}
	var rows []UsageRow
	for _, t := range doc.Tenants {
		for _, u := range t.Usages {
			row := UsageRow{Date: u.Date, TenantID: t.ID, TenantName: t.Name, TenantKind: t.Kind, ParentID: t.ParentID,
				ApplicationID: u.ApplicationID, Name: u.Name, Edition: "standard", UsageName: u.UsageName, MeasurementUnit: u.MeasurementUnit,
				Absolute: Amounts(u.Absolute), Delta: Amounts(u.Delta), Effective: Amounts(u.Effective)}
			if u.Edition != nil && *u.Edition != "" {
				row.Edition = *u.Edition
			}
			if u.InfraID != nil {
				row.InfraID = *u.InfraID
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}
