// Command loadgen is a small closed-loop HTTP load generator used by
// scripts/bench.sh to benchmark the platform API server.
//
// For every scenario x concurrency pair it starts N workers that each send
// one request at a time, as fast as the server answers, for -warmup plus
// -duration. Only requests started after the warmup and finished before the
// end of the measurement window are recorded. No request is started after
// the window closes; one still in flight is discarded and cancelled at the
// latest 30 s later, so the program always stops on its own.
//
// Scenarios: healthz (GET /healthz), me (GET /v1/me), plans (GET /v1/plans)
// and offer (GET /v1/storefront/offers/{token}) succeed with 200; order
// (anonymous POST /v1/storefront/orders, a new customer with a unique
// username and a fresh Idempotency-Key per request) succeeds with 202.
//
// It refuses to talk to anything but a loopback address.
//
// `loadgen receive` is a webhook receiver instead (see receive.go): the
// bench subscribes an endpoint to it to time order accept with webhooks.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	maxConcurrency = 4096
	maxDuration    = time.Hour
	requestTimeout = 30 * time.Second // also bounds the login request
	maxErrSamples  = 3                // distinct error messages shown per run
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "receive" {
		os.Exit(runReceive(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	base        *url.URL
	duration    time.Duration
	warmup      time.Duration
	concurrency []int
	scenarios   []string
	offerToken  string
	orderToken  string
	email       string
	password    string
	pid         int
	format      string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "http://127.0.0.1:18080", "server base URL (loopback only)")
	duration := fs.Duration("duration", 5*time.Second, "measured duration per scenario and concurrency level")
	warmup := fs.Duration("warmup", time.Second, "warmup before each measurement (not recorded)")
	conc := fs.String("concurrency", "1,16,64", "comma-separated list of concurrent clients")
	scen := fs.String("scenarios", "healthz,me", "comma-separated list of scenarios: healthz, me, offer, plans, order")
	offerToken := fs.String("offer-token", "", "order URL token (scenario offer)")
	orderToken := fs.String("order-token", "", "order URL token to place orders with (scenario order)")
	email := fs.String("email", "", "login email (scenario me)")
	password := fs.String("password", "", "login password (scenario me)")
	pid := fs.Int("pid", 0, "server process id; its VmRSS is read from /proc/PID/status after each run (0: skip)")
	format := fs.String("format", "markdown", "output format: markdown or tsv")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	u, err := checkBaseURL(*base)
	if err != nil {
		return nil, err
	}
	if *duration <= 0 || *duration > maxDuration {
		return nil, fmt.Errorf("-duration must be in (0, %s], got %s", maxDuration, *duration)
	}
	if *warmup < 0 || *warmup > maxDuration {
		return nil, fmt.Errorf("-warmup must be in [0, %s], got %s", maxDuration, *warmup)
	}
	levels, err := parseConcurrency(*conc)
	if err != nil {
		return nil, err
	}
	scenarios, err := parseScenarios(*scen)
	if err != nil {
		return nil, err
	}
	if (slices.Contains(scenarios, "me") || slices.Contains(scenarios, "plans")) && (*email == "" || *password == "") {
		return nil, errors.New("scenarios me and plans need -email and -password")
	}
	if slices.Contains(scenarios, "offer") && *offerToken == "" {
		return nil, errors.New("scenario offer needs -offer-token")
	}
	if slices.Contains(scenarios, "order") && *orderToken == "" {
		return nil, errors.New("scenario order needs -order-token")
	}
	if *pid < 0 {
		return nil, fmt.Errorf("-pid must be >= 0, got %d", *pid)
	}
	if *format != "markdown" && *format != "tsv" {
		return nil, fmt.Errorf("-format must be markdown or tsv, got %q", *format)
	}
	return &config{
		base:        u,
		duration:    *duration,
		warmup:      *warmup,
		concurrency: levels,
		scenarios:   scenarios,
		offerToken:  *offerToken,
		orderToken:  *orderToken,
		email:       *email,
		password:    *password,
		pid:         *pid,
		format:      *format,
	}, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}

	client := newClient(slices.Max(cfg.concurrency))

	// Prepare every scenario first (e.g. log in) so that a bad credential
	// fails fast instead of after minutes of load.
	reqs := make(map[string]requestSpec, len(cfg.scenarios))
	for _, s := range cfg.scenarios {
		spec, err := prepareScenario(client, cfg, s)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: scenario %s: %v\n", s, err)
			return 1
		}
		reqs[s] = spec
	}

	var rows []row
	failed := false
	for _, s := range cfg.scenarios {
		for _, c := range cfg.concurrency {
			fmt.Fprintf(stderr, "loadgen: %s with %d clients (warmup %s, duration %s)\n", s, c, cfg.warmup, cfg.duration)
			d0 := dials.Load()
			res := runLoad(client, reqs[s], c, cfg.warmup, cfg.duration)
			fmt.Fprintf(stderr, "loadgen:   %d new connections\n", dials.Load()-d0)
			st := computeStats(res.latencies, res.errors, cfg.duration)
			r := row{scenario: s, clients: c, stats: st, rssMiB: -1}
			if cfg.pid > 0 {
				rss, err := readRSSMiB(cfg.pid)
				if err != nil {
					fmt.Fprintln(stderr, "loadgen: server RSS:", err)
				} else {
					r.rssMiB = rss
				}
			}
			for _, e := range res.errSamples {
				fmt.Fprintf(stderr, "loadgen:   error sample: %s\n", e)
			}
			if st.Errors > 0 {
				fmt.Fprintf(stderr, "loadgen:   %d errors\n", st.Errors)
			}
			if st.Requests == 0 {
				failed = true
			}
			rows = append(rows, r)
		}
	}

	writeTable(stdout, cfg.format, rows)
	if failed {
		fmt.Fprintln(stderr, "loadgen: at least one run had no successful request")
		return 1
	}
	return 0
}

// checkBaseURL parses raw and accepts only http(s) URLs whose host is a
// loopback address (127.0.0.0/8, ::1) or "localhost".
func checkBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-base: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-base: scheme must be http or https, got %q", u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-base: must not contain user info, query or fragment: %q", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("-base: host %q is not a loopback address (127.0.0.0/8, ::1, localhost)", u.Hostname())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopbackHost reports whether host (without port or brackets) names the
// loopback interface.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	// Reject zoned addresses like ::1%eth0 and anything that is not a
	// literal IP (hostnames could resolve anywhere).
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseConcurrency(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > maxConcurrency {
			return nil, fmt.Errorf("-concurrency: %q is not an integer in [1, %d]", f, maxConcurrency)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-concurrency: empty list")
	}
	return out, nil
}

var knownScenarios = []string{"healthz", "me", "offer", "plans", "order"}

func parseScenarios(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(knownScenarios, f) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (known: %s)", f, strings.Join(knownScenarios, ", "))
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, errors.New("-scenarios: empty list")
	}
	return out, nil
}

// dials counts connection attempts, to spot keep-alive failures.
var dials atomic.Int64

// newClient returns a client sharing one transport that only dials loopback
// addresses, never uses a proxy and never follows redirects.
func newClient(maxConc int) *http.Client {
	dialer := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		// Checked after name resolution: even "localhost" must resolve to
		// a loopback address.
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to non-loopback address %s", address)
			}
			return nil
		},
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        2*maxConc + 16,
		MaxIdleConnsPerHost: 2*maxConc + 16, // headroom: racing dials can briefly exceed maxConc
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is reported as a non-200 answer
		},
	}
}

// requestSpec is everything a worker needs to build one request.
type requestSpec struct {
	method string
	url    string
	header http.Header
	// body, if set, is called per request for a fresh body and extra
	// headers (e.g. a new Idempotency-Key); nil sends no body.
	body     func() ([]byte, http.Header)
	okStatus int // the status counted as success; 0 means 200
}

func (s requestSpec) wantStatus() int {
	if s.okStatus == 0 {
		return http.StatusOK
	}
	return s.okStatus
}

func prepareScenario(client *http.Client, cfg *config, name string) (requestSpec, error) {
	switch name {
	case "healthz":
		return requestSpec{method: http.MethodGet, url: cfg.base.String() + "/healthz"}, nil
	case "offer":
		return requestSpec{method: http.MethodGet, url: cfg.base.String() + "/v1/storefront/offers/" + url.PathEscape(cfg.offerToken)}, nil
	case "order":
		return requestSpec{
			method:   http.MethodPost,
			url:      cfg.base.String() + "/v1/storefront/orders",
			body:     orderBody(cfg.orderToken),
			okStatus: http.StatusAccepted,
		}, nil
	case "me", "plans":
		tok, err := login(client, cfg.base.String(), cfg.email, cfg.password)
		if err != nil {
			return requestSpec{}, err
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		path := "/v1/me"
		if name == "plans" {
			path = "/v1/plans?limit=200"
		}
		return requestSpec{method: http.MethodGet, url: cfg.base.String() + path, header: h}, nil
	}
	return requestSpec{}, fmt.Errorf("unknown scenario %q", name)
}

// orderBody returns a generator of storefront order requests for a new
// customer each: a repeated username would be refused (409) and a repeated
// Idempotency-Key replayed instead of ordering.
func orderBody(token string) func() ([]byte, http.Header) {
	return func() ([]byte, http.Header) {
		user := "b" + randomHex(8)
		body, err := json.Marshal(map[string]any{
			"token":    token,
			"username": user,
			"customer": map[string]string{"name": "Bench " + user, "email": user + "@bench.example"},
		})
		if err != nil {
			panic(err) // cannot happen: only strings
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("Idempotency-Key", newUUID())
		return body, h
	}
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: it crashes the program instead
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func login(client *http.Client, base, email, password string) (string, error) {
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("login: reading body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login: POST /v1/auth/token: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(data, &tok); err != nil {
		return "", fmt.Errorf("login: decoding response: %w", err)
	}
	if tok.AccessToken == "" {
		return "", errors.New("login: response has no access_token")
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "Bearer") {
		return "", fmt.Errorf("login: unexpected token_type %q", tok.TokenType)
	}
	return tok.AccessToken, nil
}

type loadResult struct {
	latencies  []time.Duration // successful requests in the window
	errors     int             // failed requests in the window
	errSamples []string
}

// runLoad runs conc closed-loop workers for warmup+duration. Only requests
// that start after the warmup and complete before the end are recorded.
// Workers send no new request after the end; requests still in flight then
// are left to finish (so keep-alive connections survive for the next run)
// but are not counted. A hard deadline of requestTimeout after the end
// cancels anything still hanging, so runLoad always returns.
func runLoad(client *http.Client, spec requestSpec, conc int, warmup, duration time.Duration) loadResult {
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	ctx, cancel := context.WithDeadline(context.Background(), end.Add(requestTimeout))
	defer cancel()

	type workerResult struct {
		lat    []time.Duration
		errs   int
		errMsg []string
	}
	ok := spec.wantStatus()
	results := make([]workerResult, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			res := &results[w]
			res.lat = make([]time.Duration, 0, 4096)
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				status, err := doRequest(ctx, client, spec)
				t1 := time.Now()
				if t1.After(end) {
					break // finished after the window: not counted
				}
				if t0.Before(measureFrom) {
					continue // warmup
				}
				switch {
				case err != nil:
					res.errs++
					res.errMsg = appendSample(res.errMsg, err.Error())
				case status != ok:
					res.errs++
					res.errMsg = appendSample(res.errMsg, fmt.Sprintf("HTTP %d", status))
				default:
					res.lat = append(res.lat, t1.Sub(t0))
				}
			}
		})
	}
	wg.Wait()

	perWorker := make([][]time.Duration, conc)
	out := loadResult{}
	for i, r := range results {
		perWorker[i] = r.lat
		out.errors += r.errs
		for _, m := range r.errMsg {
			out.errSamples = appendSample(out.errSamples, m)
		}
	}
	out.latencies = mergeLatencies(perWorker)
	return out
}

func appendSample(samples []string, msg string) []string {
	if len(samples) >= maxErrSamples || slices.Contains(samples, msg) {
		return samples
	}
	return append(samples, msg)
}

// doRequest sends one request, reads the whole body and closes it.
func doRequest(ctx context.Context, client *http.Client, spec requestSpec) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var body io.Reader
	var extra http.Header
	if spec.body != nil {
		var b []byte
		b, extra = spec.body()
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(rctx, spec.method, spec.url, body)
	if err != nil {
		return 0, err
	}
	for k, v := range spec.header {
		req.Header[k] = v
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	cerr := resp.Body.Close()
	if err == nil {
		err = cerr
	}
	return resp.StatusCode, err
}

// mergeLatencies concatenates the per-worker slices and sorts the result.
func mergeLatencies(perWorker [][]time.Duration) []time.Duration {
	n := 0
	for _, l := range perWorker {
		n += len(l)
	}
	all := make([]time.Duration, 0, n)
	for _, l := range perWorker {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of a
// sorted slice, or 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[len(sorted)-1]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

type stats struct {
	Requests  int // successful requests
	Errors    int
	ReqPerSec float64 // successful requests per second
	P50, P99  time.Duration
}

// computeStats aggregates the sorted latencies of successful requests
// measured over window.
func computeStats(sorted []time.Duration, errs int, window time.Duration) stats {
	st := stats{Requests: len(sorted), Errors: errs}
	if window > 0 {
		st.ReqPerSec = float64(len(sorted)) / window.Seconds()
	}
	st.P50 = percentile(sorted, 50)
	st.P99 = percentile(sorted, 99)
	return st
}

// readRSSMiB reads VmRSS of process pid from /proc.
func readRSSMiB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(data))
}

// parseVmRSS extracts VmRSS (reported in kB) from a /proc/PID/status text
// and returns it in MiB.
func parseVmRSS(status string) (float64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected VmRSS line %q: %w", line, err)
		}
		return float64(kb) / 1024, nil
	}
	return 0, errors.New("no VmRSS line (kernel thread or zombie?)")
}

type row struct {
	scenario string
	clients  int
	stats    stats
	rssMiB   float64 // < 0: unknown
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

func (r row) cells() []string {
	rss := "-"
	if r.rssMiB >= 0 {
		rss = strconv.FormatFloat(r.rssMiB, 'f', 1, 64)
	}
	p50, p99 := "-", "-"
	if r.stats.Requests > 0 {
		p50, p99 = ms(r.stats.P50), ms(r.stats.P99)
	}
	return []string{
		r.scenario,
		strconv.Itoa(r.clients),
		strconv.FormatFloat(r.stats.ReqPerSec, 'f', 0, 64),
		p50,
		p99,
		strconv.Itoa(r.stats.Errors),
		rss,
	}
}

var header = []string{"scenario", "clients", "req/s", "p50 ms", "p99 ms", "errors", "server RSS MiB"}

func writeTable(w io.Writer, format string, rows []row) {
	if format == "tsv" {
		fmt.Fprintln(w, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(w, strings.Join(r.cells(), "\t"))
		}
		return
	}
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r.cells(), " | ")+" |")
	}
}
