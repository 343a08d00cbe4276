package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type authMode int

const (
	authNone       authMode = iota // token endpoint, external-login
	authAny                        // Bearer (client or user), Basic user, session cookie
	authClientOnly                 // Bearer of an API client only
	authBearer                     // Bearer (client or user) or session cookie; no Basic (oauth2-only operations)
)

type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, p *principal, args []string)

type route struct {
	method  string
	pattern []string // "*" = path parameter
	auth    authMode
	h       handlerFunc
}

func rt(method, pattern string, auth authMode, h handlerFunc) route {
	return route{method: method, pattern: strings.Split(strings.Trim(pattern, "/"), "/"), auth: auth, h: h}
}

var routes []route

func init() {
	routes = []route{
		rt("POST", "idp/token", authNone, (*Server).handleToken),
		rt("POST", "idp/ott", authClientOnly, (*Server).handleOTT),
		rt("POST", "idp/ott/login", authNone, (*Server).handleOTTLogin),
		rt("GET", "idp/external-login", authNone, (*Server).handleExternalLogin),
		rt("GET", "idp/logout", authNone, (*Server).handleLogout),
		rt("POST", "clients", authAny, (*Server).handleCreateClient),
		rt("GET", "clients/*", authAny, (*Server).handleGetClient),
		rt("GET", "search", authAny, (*Server).handleSearch),
		rt("GET", "users/me", authAny, (*Server).handleUsersMe),
		rt("GET", "users/check_login", authAny, (*Server).handleCheckLogin),
		rt("GET", "users", authAny, (*Server).handleListUsers),
		rt("POST", "users", authAny, (*Server).handleCreateUser),
		rt("GET", "users/*", authAny, (*Server).handleGetUser),
		rt("PUT", "users/*", authAny, (*Server).handleUpdateUser),
		rt("DELETE", "users/*", authAny, (*Server).handleDeleteUser),
		rt("POST", "users/*/password", authClientOnly, (*Server).handleSetPassword),
		rt("POST", "users/*/send-activation-email", authAny, (*Server).handleSendActivation),
		rt("GET", "users/*/access_policies", authAny, (*Server).handleGetPolicies),
		rt("PUT", "users/*/access_policies", authAny, (*Server).handlePutPolicies),
		rt("GET", "tenants", authAny, (*Server).handleListTenants),
		rt("POST", "tenants", authAny, (*Server).handleCreateTenant),
		rt("GET", "tenants/usages", authAny, (*Server).handleBatchUsages),
		rt("GET", "tenants/applications", authAny, (*Server).handleBatchTenantApps),
		rt("GET", "tenants/*", authAny, (*Server).handleGetTenant),
		rt("PUT", "tenants/*", authAny, (*Server).handleUpdateTenant),
		rt("DELETE", "tenants/*", authAny, (*Server).handleDeleteTenant),
		rt("GET", "tenants/*/children", authAny, (*Server).handleChildren),
		rt("GET", "tenants/*/users", authAny, (*Server).handleTenantUsers),
		rt("GET", "tenants/*/pricing", authAny, (*Server).handleGetPricing),
		rt("PUT", "tenants/*/pricing", authAny, (*Server).handlePutPricing),
		rt("GET", "tenants/*/offering_items", authAny, (*Server).handleGetOIs),
		rt("PUT", "tenants/*/offering_items", authAny, (*Server).handlePutOIs),
		rt("GET", "tenants/*/offering_items/available_for_child", authAny, (*Server).handleAvailableForChild),
		rt("GET", "tenants/*/applications", authAny, (*Server).handleTenantApps),
		rt("GET", "tenants/*/edition", authAny, (*Server).handleEditionCheck),
		rt("PUT", "tenants/*/edition", authAny, (*Server).handleEditionSwitch),
		rt("GET", "tenants/offering_items", authAny, (*Server).handleBatchOIs),
		rt("GET", "tenants/*/infra", authAny, (*Server).handleTenantInfra),
		rt("GET", "tenants/*/locations", authAny, (*Server).handleTenantLocations),
		rt("GET", "tenants/*/usages", authAny, (*Server).handleTenantUsages),
		rt("GET", "tenants/*/reports", authBearer, (*Server).handleTenantReports),
		rt("POST", "reports", authClientOnly, (*Server).handleCreateReport),
		rt("GET", "reports/*", authBearer, (*Server).handleGetReport),
		rt("DELETE", "reports/*", authBearer, (*Server).handleDeleteReport),
		rt("GET", "reports/*/stored", authBearer, (*Server).handleStoredReports),
		rt("GET", "reports/*/stored/*", authBearer, (*Server).handleDownloadReport),
		rt("GET", "applications", authAny, (*Server).handleApplications),
		rt("GET", "applications/*", authAny, (*Server).handleApplication),
		rt("POST", "applications/*/bindings/tenants/*", authAny, (*Server).handleBind),
		rt("DELETE", "applications/*/bindings/tenants/*", authAny, (*Server).handleUnbind),
		rt("GET", "editions", authAny, (*Server).handleEditions),
		rt("GET", "infra", authClientOnly, (*Server).handleInfra),
		rt("GET", "locations", authClientOnly, (*Server).handleLocations),
	}
}

// match finds the route for a path: the most specific pattern wins, and a
// path that matches only with other methods gives 405.
func match(method string, segs []string) (rte *route, args []string, allowed []string) {
	best := -1
	var cands []int
	for i := range routes {
		p := routes[i].pattern
		if len(p) != len(segs) {
			continue
		}
		lit, ok := 0, true
		for j := range p {
			if p[j] == "*" {
				if segs[j] == "" {
					ok = false
					break
				}
				continue
			}
			if p[j] != segs[j] {
				ok = false
				break
			}
			lit++
		}
		if !ok {
			continue
		}
		switch {
		case lit > best:
			best, cands = lit, []int{i}
		case lit == best:
			cands = append(cands, i)
		}
	}
	for _, i := range cands {
		allowed = append(allowed, routes[i].method)
		if routes[i].method == method {
			rte = &routes[i]
			for j, p := range rte.pattern {
				if p == "*" {
					args = append(args, segs[j])
				}
			}
		}
	}
	return rte, args, allowed
}

// statusWriter records the status written by a handler.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// bufferWriter swallows a response (used for after-effect faults).
type bufferWriter struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.h }
func (b *bufferWriter) WriteHeader(code int)        { b.status = code }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }

func (s *Server) logCall(method, path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: method, Path: path, Status: status})
}

// pickFault returns the first fault that matches and whose dice roll hits.
func (s *Server) pickFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64 // this call's count, for PerCall faults
	key := r.Method + " " + r.URL.RequestURI()
	if len(s.faults) > 0 {
		if s.counts == nil {
			s.counts = map[string]uint64{}
		}
		s.counts[key]++
		n = s.counts[key]
	}
	for i := range s.faults {
		f := s.faults[i]
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		if f.Rate < 1 {
			roll := s.rng.Float64
			if f.PerCall {
				roll = func() float64 { return callRoll(s.opts.Seed, i, key, n) }
			}
			if roll() >= f.Rate {
				continue
			}
		}
		return &f
	}
	return nil
}

// callRoll is a PerCall fault's dice: a number in [0, 1) fixed by the
// seed, the rule, the call and its count.
func callRoll(seed int64, rule int, key string, n uint64) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%d\x00%s\x00%d", seed, rule, key, n)
	x := h.Sum64()
	// splitmix64's finaliser spreads FNV's bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() { s.logCall(r.Method, r.URL.Path, sw.status) }()

	f := s.pickFault(r)
	if f == nil {
		s.dispatch(sw, r)
		s.persistAfter(r, sw.status)
		return
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f.AfterEffect {
		bw := &bufferWriter{h: http.Header{}}
		s.dispatch(bw, r)
		s.persistAfter(r, bw.status)
	}
	switch {
	case f.Timeout:
		hang(w, r)
	case f.Drop:
		dropConn(w)
	case f.Status != 0:
		writeFaultStatus(sw, f.Status)
	case f.AfterEffect:
		writeFaultStatus(sw, http.StatusInternalServerError)
	default: // latency only
		s.dispatch(sw, r)
		s.persistAfter(r, sw.status)
	}
}

// persistAfter saves the state after a successful mutating call. Token and
// one-time-token calls change nothing that is persisted.
func (s *Server) persistAfter(r *http.Request, status int) {
	if s.opts.StateFile == "" || status < 200 || status >= 300 {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return
	}
	if strings.HasPrefix(r.URL.Path, apiPrefix+"/idp/") {
		return
	}
	s.persist()
}

func writeFaultStatus(w http.ResponseWriter, status int) {
	code := status
	msg := http.StatusText(status)
	info := "Simulated fault."
	if status >= 500 {
		code, msg = 1000, "Internal error"
		if status == http.StatusServiceUnavailable {
			msg = "Service Unavailable"
		}
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, status, code, msg, info)
}

// hang never answers: the connection is taken over and closed only once the
// client gives up (closes it). Taking it over keeps a hanging request from
// blocking the HTTP server's shutdown.
func hang(w http.ResponseWriter, r *http.Request) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			go func() {
				_, _ = io.Copy(io.Discard, c) // returns when the client closes
				_ = c.Close()
			}()
			return
		}
	}
	<-r.Context().Done()
	dropConn(w)
}

// dropConn closes the client connection without a response.
func dropConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// Hijack lets faults drop the connection through the status writer.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, apiPrefix)
	rest = strings.TrimPrefix(rest, "/")
	rest = strings.TrimSuffix(rest, "/") // accept one trailing slash
	segs := strings.Split(rest, "/")
	rte, args, allowed := match(r.Method, segs)
	if rte == nil {
		if len(allowed) > 0 {
			slices.Sort(allowed)
			w.Header().Set("Allow", strings.Join(slices.Compact(allowed), ", "))
			writeError(w, http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, "Method Not Allowed",
				"The method is not allowed for the requested URL.")
			return
		}
		writeError(w, http.StatusNotFound, http.StatusNotFound, "Not Found", "The requested URL was not found on the server.")
		return
	}
	if r.Method == http.MethodGet && r.URL.RawQuery == "" && r.ContentLength != 0 {
		bodyAsQuery(r)
	}
	var p *principal
	if rte.auth != authNone {
		var e *httpErr
		p, e = s.authenticate(r)
		if e != nil {
			writeHTTPErr(w, e)
			return
		}
		if rte.auth == authClientOnly && (p.Kind != principalClient || p.ViaBasic) {
			writeHTTPErr(w, forbidden("This operation is available only to API clients (OAuth 2.0 client credentials)."))
			return
		}
		if rte.auth == authBearer && p.ViaBasic {
			writeHTTPErr(w, forbidden("This operation requires an OAuth 2.0 access token; Basic authentication is not accepted."))
			return
		}
	}
	rte.h(s, w, r, p, args)
}

// bodyAsQuery takes the query parameters of a GET from its body when the URL
// has none: pyacronis sends a GET's parameters form-encoded in the body (with
// Content-Type application/json), and the vendor answers such calls as if
// they were in the query. A JSON object body is read the same way.
func bodyAsQuery(r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	q := url.Values{}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				q.Set(k, v)
			case float64, bool:
				q.Set(k, fmt.Sprint(v))
			}
		}
	} else if vals, err := url.ParseQuery(string(bytes.TrimSpace(raw))); err == nil {
		q = vals
	}
	r.URL.RawQuery = q.Encode()
}
