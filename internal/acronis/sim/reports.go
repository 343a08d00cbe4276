package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Reports (§9). A report is generated when it is created, from the same
// usage generator and overrides as /usages; its stored files turn from
// in_progress to saved reportReadyAfter of simulator time later.

const (
	reportReadyAfter = 2 * time.Second
	formatCSV2       = "csv_v2_0"
	formatJSON2      = "json_v2_0"
	kindDaily        = "usage_daily"
	kindSummary      = "usage_summary"
	kindCurrent      = "usage_current"
	storedTimeLayout = "2006-01-02T15:04:05+00:00"
)

var (
	reportLevels  = []string{"itself", "direct_partners", "all_partners", "all_customers", "accounts"}
	reportKinds   = []string{kindDaily, kindSummary, kindCurrent}
	reportFormats = []string{formatCSV2, formatJSON2}

	// csvHeader is the exact header line (without the line end) of csv_v2_0 files.
	csvHeader = []string{"date", "tenant.id", "tenant.name", "tenant.kind", "tenant.parent_id", "application.id", "name",
		"edition", "usage_name", "measurement_unit", "infra.id", "infra.backend_type", "infra.owner_id",
		"usage.absolute.total", "usage.absolute.production", "usage.absolute.trial",
		"usage.delta.total", "usage.delta.production", "usage.delta.trial",
		"usage.effective.total", "usage.effective.production", "usage.effective.trial"}
)

type report struct {
	ID             string
	TenantID       string
	Level, Kind    string
	Formats        []string
	Start, End     string // the period; empty for usage_current
	HideZero       *bool  // nil = not given
	ShowSKUs       *bool
	Recipients     []string
	ResultAction   string
	GenerationDate string
	Version        int64
	CreatedAt      time.Time
	Seq            int
	Stored         []*storedReport
}

type storedReport struct {
	ID, Format string
	CreatedAt  time.Time
	Data       []byte // the gzip-compressed file
}

func (s *Server) reportView(rp *report) map[string]any {
	params := map[string]any{"tenant_id": rp.TenantID, "level": rp.Level, "kind": rp.Kind, "formats": slices.Clone(rp.Formats)}
	if rp.Start != "" {
		params["period"] = map[string]any{"start": rp.Start, "end": rp.End}
	}
	if rp.HideZero != nil {
		params["hide_zero_usage"] = *rp.HideZero
	}
	if rp.ShowSKUs != nil {
		params["show_skus"] = *rp.ShowSKUs
	}
	recipients := slices.Clone(rp.Recipients)
	if recipients == nil {
		recipients = []string{}
	}
	return map[string]any{"id": rp.ID, "version": rp.Version, "generation_date": rp.GenerationDate, "parameters": params,
		"result_action": rp.ResultAction, "recipients": recipients,
		"schedule": map[string]any{"type": "once", "enabled": true}}
}

func (s *Server) storedStatus(sr *storedReport) string {
	if s.now().Before(sr.CreatedAt.Add(reportReadyAfter)) {
		return "in_progress"
	}
	return "saved"
}

func parseDate(key, v string) (time.Time, *httpErr) {
	d, err := time.Parse(time.DateOnly, v)
	if err != nil || d.Format(time.DateOnly) != v {
		return time.Time{}, badRequest(fmt.Sprintf("'%s' must be a date in the format YYYY-MM-DD", key))
	}
	return d, nil
}

func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// parseReportPost validates a reportPost body into a report (without ids).
// today is the simulator date.
func parseReportPost(body map[string]any, today time.Time) (*report, *httpErr) {
	if e := checkKeys(body, "parameters", "schedule", "result_action", "recipients", "generation_date"); e != nil {
		return nil, e
	}
	params, ok, e := getObject(body, "parameters")
	if e != nil {
		return nil, e
	}
	if !ok {
		return nil, badRequest("'parameters' is a required property")
	}
	rp := &report{Version: 1}
	for _, f := range []struct {
		key string
		dst *string
		one []string
	}{{"tenant_id", &rp.TenantID, nil}, {"level", &rp.Level, reportLevels}, {"kind", &rp.Kind, reportKinds}} {
		v, _, e := getString(params, f.key)
		if e != nil {
			return nil, e
		}
		switch {
		case v == "":
			return nil, badRequest(fmt.Sprintf("'%s' is a required property", f.key))
		case f.key == "kind" && v == "usage_breakdown":
			return nil, badRequest("Report kind 'usage_breakdown' is not simulated.")
		case f.one != nil && !slices.Contains(f.one, v):
			return nil, badRequest(fmt.Sprintf("'%s' must be one of %v", f.key, f.one))
		}
		*f.dst = v
	}
	formats, ok, e := getStringList(params, "formats")
	if e != nil {
		return nil, e
	}
	if !ok {
		formats = []string{formatCSV2} // WHMCS sends none and finds a csv_v2_0 file
	}
	if len(formats) == 0 {
		return nil, badRequest("'formats' must not be empty")
	}
	for _, f := range formats {
		switch {
		case slices.Contains(reportFormats, f):
			if !slices.Contains(rp.Formats, f) {
				rp.Formats = append(rp.Formats, f)
			}
		case slices.Contains([]string{"csv", "html", "json_v1"}, f):
			return nil, badRequest(fmt.Sprintf("Report format '%s' is not simulated; use csv_v2_0 or json_v2_0.", f))
		default:
			return nil, badRequest(fmt.Sprintf("'formats' has an invalid value '%s'", f))
		}
	}
	for _, b := range []struct {
		key string
		dst **bool
	}{{"hide_zero_usage", &rp.HideZero}, {"show_skus", &rp.ShowSKUs}} {
		v, present, e := getBool(params, b.key)
		if e != nil {
			return nil, e
		}
		if present {
			*b.dst = &v
		}
	}
	period, hasPeriod, e := getObject(params, "period")
	if e != nil {
		return nil, e
	}
	if rp.Kind != kindCurrent { // usage_current always covers the previous day
		if !hasPeriod {
			return nil, badRequest(fmt.Sprintf("'period' is required for the report kind '%s'", rp.Kind))
		}
		start, _, e1 := getString(period, "start")
		end, _, e2 := getString(period, "end")
		if e1 != nil || e2 != nil || start == "" || end == "" {
			return nil, badRequest("'period' requires 'start' and 'end' dates (YYYY-MM-DD)")
		}
		sd, e := parseDate("start", start)
		if e != nil {
			return nil, e
		}
		ed, e := parseDate("end", end)
		if e != nil {
			return nil, e
		}
		if sd.After(ed) {
			return nil, badRequest("The report period start must not be after its end.")
		}
		if ed.After(today) {
			return nil, badRequest("The report period must not be in the future.")
		}
		rp.Start, rp.End = start, end
	}
	sched, ok, e := getObject(body, "schedule")
	if e != nil {
		return nil, e
	}
	if !ok {
		return nil, badRequest("'schedule' is a required property")
	}
	switch typ, _, _ := getString(sched, "type"); typ {
	case "once":
	case "monthly":
		return nil, badRequest("Scheduled (monthly) reports are not simulated; use {\"type\":\"once\"}.")
	default:
		return nil, badRequest("'schedule.type' must be one of [once monthly]")
	}
	if _, _, e := getBool(sched, "enabled"); e != nil {
		return nil, e
	}
	rp.ResultAction, _, e = getString(body, "result_action")
	if e != nil {
		return nil, e
	}
	if rp.ResultAction != "save" && rp.ResultAction != "send" {
		return nil, badRequest("'result_action' must be one of [save send]")
	}
	if rp.Recipients, _, e = getStringList(body, "recipients"); e != nil {
		return nil, e
	}
	if rp.ResultAction == "send" && len(rp.Recipients) == 0 {
		return nil, badRequest("'recipients' must not be empty when 'result_action' is 'send'")
	}
	rp.GenerationDate = today.Format(time.DateOnly)
	if gd, ok, e := getString(body, "generation_date"); e != nil {
		return nil, e
	} else if ok {
		if _, e := parseDate("generation_date", gd); e != nil {
			return nil, e
		}
		rp.GenerationDate = gd
	}
	return rp, nil
}

func (s *Server) handleCreateReport(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	body, e := readJSONObject(r, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	rp, e := parseReportPost(body, dayOf(now))
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	root, e := s.visibleTenant(p, rp.TenantID, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	rp.ID, rp.CreatedAt, rp.Seq = s.newID(), now, s.st.nextSeq()
	for _, f := range rp.Formats {
		var data []byte
		if f == formatCSV2 {
			// Written row by row into the compressed file: a daily report
			// of many tenants is never held uncompressed.
			data = s.renderCSVGzip(root, rp, dayOf(now))
		} else {
			data = gzipBytes(s.renderJSON(rp, s.reportRows(root, rp, dayOf(now)), dayOf(now)))
		}
		rp.Stored = append(rp.Stored, &storedReport{ID: s.newID(), Format: f, CreatedAt: now, Data: data})
	}
	s.st.reports[rp.ID] = rp
	writeJSON(w, http.StatusOK, s.reportView(rp))
}

// visibleReport finds a live report whose tenant is in the caller's subtree.
// Caller holds s.mu.
func (s *Server) visibleReport(p *principal, id string) (*report, *httpErr) {
	rp := s.st.reports[id]
	if rp == nil {
		return nil, notFound("Report", id)
	}
	if !s.st.inSubtree(p.TenantID, rp.TenantID) {
		return nil, forbidden(fmt.Sprintf("Access to report %q is denied.", id))
	}
	return rp, nil
}

func (s *Server) handleGetReport(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, e := s.visibleReport(p, args[0])
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, s.reportView(rp))
}

func (s *Server) handleDeleteReport(w http.ResponseWriter, r *http.Request, p *principal, args []string) {
	vs := r.URL.Query().Get("version")
	if vs == "" {
		writeHTTPErr(w, badRequest("The 'version' query parameter is required."))
		return
	}
	version, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		writeHTTPErr(w, badRequest("The 'version' query parameter must be an integer."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, e := s.visibleReport(p, args[0])
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if version != rp.Version {
		writeHTTPErr(w, versionMismatch(rp.ID, version, rp.Version))
		return
	}
	delete(s.st.reports, rp.ID)
	writeNoContent(w)
}

func (s *Server) handleTenantReports(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, args[0], false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	var list []*report
	for _, rp := range s.st.reports {
		if rp.TenantID == t.ID {
			list = append(list, rp)
		}
	}
	slices.SortFunc(list, func(a, b *report) int { return a.Seq - b.Seq })
	items := []string{}
	for _, rp := range list {
		items = append(items, rp.ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleStoredReports(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, e := s.visibleReport(p, args[0])
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	items := []any{}
	for _, sr := range rp.Stored {
		items = append(items, map[string]any{"created_at": sr.CreatedAt.UTC().Format(storedTimeLayout), "id": sr.ID,
			"report_format": sr.Format, "size": len(sr.Data), "status": s.storedStatus(sr)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleDownloadReport(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, e := s.visibleReport(p, args[0])
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	var sr *storedReport
	for _, x := range rp.Stored {
		if x.ID == args[1] {
			sr = x
		}
	}
	if sr == nil {
		writeHTTPErr(w, notFound("Stored report", args[1]))
		return
	}
	if s.storedStatus(sr) != "saved" {
		e := notFound("Stored report", sr.ID)
		e.env.Details = map[string]any{"info": fmt.Sprintf("Stored report %q is not ready yet (status in_progress).", sr.ID)}
		writeHTTPErr(w, e)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(len(sr.Data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(sr.Data)
}

// A reportRow is one line of a report: one tenant, one item, one date.
type reportRow struct {
	Date           string
	T              *tenant
	Item           catalogItem
	Abs, Delta     [3]int64 // total, production, trial
	InfraID, Owner string
}

// dayUsage is the usage of one enabled item of a customer or unit on a day:
// the /usages figure of that day, 0 before the tenant existed.
func (s *Server) dayUsage(t *tenant, o *offeringItem, day time.Time) int64 {
	if day.Before(dayOf(t.CreatedAt)) {
		return 0
	}
	return s.usageValue(t, o, day)
}

// leaves returns the tenants whose usage rolls up into t: t itself for a
// customer or unit, else every live customer and unit below it.
func (s *Server) leaves(t *tenant) []*tenant {
	if t.Kind == "customer" || t.Kind == "unit" {
		return []*tenant{t}
	}
	var out []*tenant
	for _, c := range s.st.tenants {
		if c.live() && !c.Personal && (c.Kind == "customer" || c.Kind == "unit") && s.st.inSubtree(t.ID, c.ID) {
			out = append(out, c)
		}
	}
	sortTenants(out)
	return out
}

// figure returns total, production and trial usage of an item for t on day.
func (s *Server) figure(leaves []*tenant, name string, day time.Time) [3]int64 {
	var f [3]int64
	for _, l := range leaves {
		o := l.oi(name)
		if o == nil || o.Status != 1 {
			continue
		}
		v := s.dayUsage(l, o, day)
		f[0] += v
		if l.PricingMode == "trial" {
			f[2] += v
		} else {
			f[1] += v
		}
	}
	return f
}

// reportScope lists the tenants a report level covers, in creation order.
func (s *Server) reportScope(root *tenant, level string) []*tenant {
	if level == "itself" {
		return []*tenant{root}
	}
	var out []*tenant
	for _, t := range s.st.tenants {
		if !t.live() || t.Personal || t.ID == root.ID || !s.st.inSubtree(root.ID, t.ID) {
			continue
		}
		ok := false
		switch level {
		case "direct_partners":
			ok = t.ParentID == root.ID && t.Kind == "partner"
		case "all_partners":
			ok = t.Kind == "partner"
		case "all_customers":
			ok = t.Kind == "customer"
		case "accounts":
			ok = true
		}
		if ok {
			out = append(out, t)
		}
	}
	sortTenants(out)
	return out
}

func sub(a, b [3]int64) [3]int64 { return [3]int64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

// reportRows computes the rows of a report, tenant by tenant, item by item,
// day by day. Caller holds s.mu.
func (s *Server) reportRows(root *tenant, rp *report, today time.Time) []reportRow {
	var rows []reportRow
	s.eachReportRow(root, rp, today, func(r reportRow) { rows = append(rows, r) })
	return rows
}

// eachReportRow hands fn the rows of a report in order. Caller holds s.mu.
func (s *Server) eachReportRow(root *tenant, rp *report, today time.Time, fn func(reportRow)) {
	var days []time.Time
	var base func(day time.Time) time.Time // the day the delta is measured from
	switch rp.Kind {
	case kindDaily:
		start, _ := time.Parse(time.DateOnly, rp.Start)
		end, _ := time.Parse(time.DateOnly, rp.End)
		for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
		base = func(d time.Time) time.Time { return d.AddDate(0, 0, -1) }
	case kindSummary:
		start, _ := time.Parse(time.DateOnly, rp.Start)
		end, _ := time.Parse(time.DateOnly, rp.End)
		days = []time.Time{end}
		base = func(time.Time) time.Time { return start }
	default: // usage_current: the previous day, delta since the start of its month
		prev := today.AddDate(0, 0, -1)
		days = []time.Time{prev}
		base = func(d time.Time) time.Time { return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC) }
	}
	hide := rp.HideZero != nil && *rp.HideZero
	for _, t := range s.reportScope(root, rp.Level) {
		leaves := s.leaves(t)
		for _, o := range t.OIs {
			if o.Status != 1 {
				continue
			}
			for _, d := range days {
				abs := s.figure(leaves, o.Name, d)
				if hide && abs == [3]int64{} {
					continue
				}
				row := reportRow{Date: d.Format(time.DateOnly), T: t, Item: o.catalogItem, Abs: abs,
					Delta: sub(abs, s.figure(leaves, o.Name, base(d)))}
				if o.Infra {
					row.InfraID, row.Owner = s.infraID, s.rootID
				}
				fn(row)
			}
		}
	}
}

// renderCSVGzip renders a report's rows as csv_v2_0, gzip-compressed.
// Caller holds s.mu.
func (s *Server) renderCSVGzip(root *tenant, rp *report, today time.Time) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	cw := csv.NewWriter(zw) // RFC 4180 quoting, "\n" line ends
	_ = cw.Write(csvHeader)
	s.eachReportRow(root, rp, today, func(r reportRow) { writeCSVRow(cw, r) })
	cw.Flush()
	_ = zw.Close()
	return b.Bytes()
}

func writeCSVRow(cw *csv.Writer, r reportRow) {
	n := strconv.FormatInt
	backend := ""
	if r.InfraID != "" {
		backend = infraBackendType
	}
	_ = cw.Write([]string{r.Date, r.T.ID, r.T.Name, r.T.Kind, r.T.ParentID, r.Item.App, r.Item.Name, r.Item.Edition,
		r.Item.UsageName, r.Item.Unit, r.InfraID, backend, r.Owner,
		n(r.Abs[0], 10), n(r.Abs[1], 10), n(r.Abs[2], 10),
		n(r.Delta[0], 10), n(r.Delta[1], 10), n(r.Delta[2], 10),
		n(r.Abs[0], 10), n(r.Abs[1], 10), n(r.Abs[2], 10)})
}

type jsonFigure struct {
	Total      int64 `json:"total"`
	Production int64 `json:"production"`
	Trial      int64 `json:"trial"`
}

type jsonUsage struct {
	Date            string     `json:"date"`
	ApplicationID   string     `json:"application_id"`
	Name            string     `json:"name"`
	Edition         *string    `json:"edition"`
	UsageName       string     `json:"usage_name"`
	MeasurementUnit string     `json:"measurement_unit"`
	InfraID         *string    `json:"infra_id"`
	Absolute        jsonFigure `json:"absolute"`
	Delta           jsonFigure `json:"delta"`
	Effective       jsonFigure `json:"effective"`
}

type jsonTenant struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Kind     string      `json:"kind"`
	ParentID string      `json:"parent_id"`
	Usages   []jsonUsage `json:"usages"`
}

type jsonParams struct {
	Kind        string `json:"kind"`
	GenDate     string `json:"gen_date"`
	BeginDate   string `json:"begin_date"`
	EndDate     string `json:"end_date"`
	ReportLevel string `json:"report_level"`
	ReportType  string `json:"report_type"`
}

type jsonReportFile struct {
	Params  jsonParams   `json:"params"`
	Tenants []jsonTenant `json:"tenants"`
}

func fig(f [3]int64) jsonFigure { return jsonFigure{f[0], f[1], f[2]} }

func (s *Server) renderJSON(rp *report, rows []reportRow, today time.Time) []byte {
	begin, end := rp.Start, rp.End
	if rp.Kind == kindCurrent {
		begin = today.AddDate(0, 0, -1).Format(time.DateOnly)
		end = begin
	}
	doc := jsonReportFile{Params: jsonParams{Kind: rp.Kind, GenDate: rp.GenerationDate, BeginDate: begin, EndDate: end,
		ReportLevel: rp.Level, ReportType: "once"}, Tenants: []jsonTenant{}}
	for _, r := range rows {
		if n := len(doc.Tenants); n == 0 || doc.Tenants[n-1].ID != r.T.ID {
			doc.Tenants = append(doc.Tenants, jsonTenant{ID: r.T.ID, Name: r.T.Name, Kind: r.T.Kind, ParentID: r.T.ParentID,
				Usages: []jsonUsage{}})
		}
		u := jsonUsage{Date: r.Date, ApplicationID: r.Item.App, Name: r.Item.Name, UsageName: r.Item.UsageName,
			MeasurementUnit: r.Item.Unit, Absolute: fig(r.Abs), Delta: fig(r.Delta), Effective: fig(r.Abs)}
		if r.Item.Edition != "" {
			u.Edition = strPtr(r.Item.Edition)
		}
		if r.InfraID != "" {
			u.InfraID = strPtr(r.InfraID)
		}
		jt := &doc.Tenants[len(doc.Tenants)-1]
		jt.Usages = append(jt.Usages, u)
	}
	b, _ := json.Marshal(doc)
	return b
}

func gzipBytes(raw []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return b.Bytes()
}
