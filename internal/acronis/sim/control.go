package sim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// faultJSON is the wire form of a Fault on /_sim/faults (durations as strings).
type faultJSON struct {
	Method      string  `json:"method"`
	PathPrefix  string  `json:"path_prefix"`
	Rate        float64 `json:"rate"`
	Status      int     `json:"status"`
	Latency     string  `json:"latency"`
	Timeout     bool    `json:"timeout"`
	Drop        bool    `json:"drop"`
	AfterEffect bool    `json:"after_effect"`
	PerCall     bool    `json:"per_call"`
}

// serveControl serves the simulator's own control API. It needs no auth, is
// never logged as a call and never subject to faults.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, simPrefix), "/")
	switch path {
	case "/reset":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		s.Reset()
		writeNoContent(w)
	case "/clock":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]any{"now": s.Now().UTC().Format(time.RFC3339Nano)})
		case http.MethodPost:
			body, e := readJSONObject(r, false)
			if e != nil {
				writeHTTPErr(w, e)
				return
			}
			adv, _, _ := getString(body, "advance")
			d, err := time.ParseDuration(adv)
			if err != nil || d < 0 {
				writeHTTPErr(w, badRequest("'advance' must be a non-negative Go duration such as \"36h\""))
				return
			}
			s.Advance(d)
			writeJSON(w, http.StatusOK, map[string]any{"now": s.Now().UTC().Format(time.RFC3339Nano)})
		default:
			methodNotAllowed(w, "GET, POST")
		}
	case "/faults":
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			out := []any{}
			for _, f := range s.faults {
				out = append(out, faultJSON{f.Method, f.PathPrefix, f.Rate, f.Status, f.Latency.String(), f.Timeout, f.Drop, f.AfterEffect, f.PerCall})
			}
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"items": out})
		case http.MethodPost:
			if !isJSON(r) {
				writeHTTPErr(w, unsupportedMedia())
				return
			}
			var fj faultJSON
			if e := decodeStrict(r, &fj); e != nil {
				writeHTTPErr(w, e)
				return
			}
			f := Fault{Method: fj.Method, PathPrefix: fj.PathPrefix, Rate: fj.Rate, Status: fj.Status,
				Timeout: fj.Timeout, Drop: fj.Drop, AfterEffect: fj.AfterEffect, PerCall: fj.PerCall}
			if fj.Latency != "" {
				d, err := time.ParseDuration(fj.Latency)
				if err != nil {
					writeHTTPErr(w, badRequest("'latency' must be a Go duration such as \"250ms\""))
					return
				}
				f.Latency = d
			}
			if f.Rate < 0 || f.Rate > 1 {
				writeHTTPErr(w, badRequest("'rate' must be within 0..1"))
				return
			}
			s.SetFault(f)
			writeNoContent(w)
		case http.MethodDelete:
			s.ClearFaults()
			writeNoContent(w)
		default:
			methodNotAllowed(w, "GET, POST, DELETE")
		}
	case "/calls":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		calls := s.Calls()
		if calls == nil {
			calls = []Call{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": calls})
	case "/state":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		tenants := map[string]int{}
		for _, k := range tenantKinds {
			tenants[k] = s.CountTenants(k)
		}
		writeJSON(w, http.StatusOK, map[string]any{"tenants": tenants, "users": s.CountUsers(),
			"sp_tenant_id": s.spID, "now": s.Now().UTC().Format(time.RFC3339Nano)})
	case "/usage":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		body, e := readJSONObject(r, false)
		if e != nil {
			writeHTTPErr(w, e)
			return
		}
		tid, _, _ := getString(body, "tenant_id")
		name, _, _ := getString(body, "name")
		val, ok, e := getInt(body, "value")
		if e != nil || !ok || val < 0 || tid == "" || name == "" {
			writeHTTPErr(w, badRequest("'tenant_id', 'name' and a non-negative integer 'value' are required"))
			return
		}
		// "from": the day the value applies from (default: the current day).
		var from time.Time
		if fs, has, e := getString(body, "from"); e != nil || has {
			d, err := time.Parse(time.DateOnly, fs)
			if e != nil || err != nil {
				writeHTTPErr(w, badRequest("'from' must be a date YYYY-MM-DD"))
				return
			}
			from = d
		}
		if err := s.SetUsageFrom(tid, name, from, val); err != nil {
			var future errUsageFuture
			if errors.As(err, &future) {
				writeHTTPErr(w, badRequest(err.Error()))
				return
			}
			writeError(w, http.StatusNotFound, http.StatusNotFound, "Not Found", err.Error())
			return
		}
		writeNoContent(w)
	case "/seed":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		if !isJSON(r) {
			writeHTTPErr(w, unsupportedMedia())
			return
		}
		var body struct {
			OfferingItems []string `json:"offering_items"`
		}
		if e := decodeStrict(r, &body); e != nil {
			writeHTTPErr(w, e)
			return
		}
		if err := s.SetSPOfferingItems(body.OfferingItems); err != nil {
			writeHTTPErr(w, badRequest(err.Error()))
			return
		}
		writeNoContent(w)
	default:
		writeError(w, http.StatusNotFound, http.StatusNotFound, "Not Found", "Unknown simulator control endpoint.")
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, "Method Not Allowed",
		"The method is not allowed for the requested URL.")
}

// SetSPOfferingItems chooses which catalog items the SP tenant has enabled;
// the others are turned off there (and so cannot be given to children).
// An empty list enables the whole catalog again.
func (s *Server) SetSPOfferingItems(names []string) error {
	if err := s.setSPOfferingItems(names); err != nil {
		return err
	}
	s.persist()
	return nil
}

func (s *Server) setSPOfferingItems(names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sp := s.st.tenants[s.spID]
	for n := range want {
		if sp.oi(n) == nil {
			return fmt.Errorf("offering item %q is not in the simulator's catalog", n)
		}
	}
	for _, o := range sp.OIs {
		o.Status = 0
		if len(want) == 0 || want[o.Name] {
			o.Status = 1
		}
	}
	return nil
}
