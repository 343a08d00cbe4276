package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func msd(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", msd(7), 50, 7 * time.Millisecond},
		{"single p99", msd(7), 99, 7 * time.Millisecond},
		{"two p50", msd(1, 2), 50, 1 * time.Millisecond},
		{"two p99", msd(1, 2), 99, 2 * time.Millisecond},
		{"odd p50", msd(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p100", hundred, 100, 100 * time.Millisecond},
		{"hundred p0", hundred, 0, 1 * time.Millisecond},
		{"hundred p99.5", hundred, 99.5, 100 * time.Millisecond},
		{"tiny p", hundred, 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMergeLatencies(t *testing.T) {
	tests := []struct {
		name      string
		perWorker [][]time.Duration
		want      []time.Duration
	}{
		{"none", nil, []time.Duration{}},
		{"empty workers", [][]time.Duration{nil, {}}, []time.Duration{}},
		{"one worker unsorted", [][]time.Duration{msd(3, 1, 2)}, msd(1, 2, 3)},
		{"interleaved", [][]time.Duration{msd(5, 1), msd(4), nil, msd(2, 3)}, msd(1, 2, 3, 4, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeLatencies(tt.perWorker)
			if !slices.Equal(got, tt.want) {
				t.Errorf("mergeLatencies = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestComputeStats(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		errs   int
		window time.Duration
		want   stats
	}{
		{"nothing", nil, 0, time.Second, stats{}},
		{"only errors", nil, 12, 2 * time.Second, stats{Errors: 12}},
		{"zero window", msd(1), 0, 0, stats{Requests: 1, P50: time.Millisecond, P99: time.Millisecond}},
		{"hundred in 2s", hundred, 3, 2 * time.Second, stats{
			Requests: 100, Errors: 3, ReqPerSec: 50, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := computeStats(tt.sorted, tt.errs, tt.window); got != tt.want {
				t.Errorf("computeStats = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"127.255.255.254", true},
		{"localhost", true},
		{"LocalHost", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"128.0.0.1", false},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"example.com", false},
		{"localhost.example.com", false},
		{"127.0.0.1.nip.io", false},
		{"::1%lo", false},
		{"2001:db8::1", false},
	}
	for _, tt := range tests {
		if got := isLoopbackHost(tt.host); got != tt.want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    string // "" means an error is expected
		errLike string
	}{
		{raw: "http://127.0.0.1:18080", want: "http://127.0.0.1:18080"},
		{raw: "http://127.0.0.1:18080/", want: "http://127.0.0.1:18080"},
		{raw: "http://localhost:8080/api/", want: "http://localhost:8080/api"},
		{raw: "https://[::1]:8443", want: "https://[::1]:8443"},
		{raw: "http://127.9.9.9", want: "http://127.9.9.9"},
		{raw: "http://10.0.0.1:18080", errLike: "not a loopback"},
		{raw: "http://example.com", errLike: "not a loopback"},
		{raw: "http://[::]:80", errLike: "not a loopback"},
		{raw: "http://0.0.0.0:18080", errLike: "not a loopback"},
		{raw: "ftp://127.0.0.1", errLike: "scheme"},
		{raw: "127.0.0.1:18080", errLike: "-base"},
		{raw: "", errLike: "scheme"},
		{raw: "http://user:pw@127.0.0.1", errLike: "user info"},
		{raw: "http://127.0.0.1/?x=1", errLike: "query"},
		{raw: "http://127.0.0.1@example.com/", errLike: "user info"},
		{raw: "http://%zz", errLike: "-base"},
	}
	for _, tt := range tests {
		u, err := checkBaseURL(tt.raw)
		if tt.want == "" {
			if err == nil {
				t.Errorf("checkBaseURL(%q) = %v, want error", tt.raw, u)
			} else if !strings.Contains(err.Error(), tt.errLike) {
				t.Errorf("checkBaseURL(%q) error %q, want it to contain %q", tt.raw, err, tt.errLike)
			}
			continue
		}
		if err != nil {
			t.Errorf("checkBaseURL(%q): unexpected error %v", tt.raw, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("checkBaseURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestParseConcurrency(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "1,16,64", want: []int{1, 16, 64}},
		{in: " 4 , 8 ,", want: []int{4, 8}},
		{in: "1", want: []int{1}},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "100000", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseConcurrency(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseConcurrency(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("parseConcurrency(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "healthz,me", want: []string{"healthz", "me"}},
		{in: "me", want: []string{"me"}},
		{in: " healthz ,", want: []string{"healthz"}},
		{in: "", wantErr: true},
		{in: "healthz,nope", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseScenarios(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseScenarios(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("parseScenarios(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    float64
		wantErr bool
	}{
		{name: "typical", status: "Name:\tplatform\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nRssAnon:\t 1 kB\n", want: 20},
		{name: "fraction", status: "VmRSS:\t 1536 kB\n", want: 1.5},
		{name: "missing", status: "Name:\tkthreadd\nState:\tS\n", wantErr: true},
		{name: "garbage", status: "VmRSS:\t lots kB\n", wantErr: true},
		{name: "wrong unit", status: "VmRSS:\t 12 MB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS(tt.status)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVmRSS error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseVmRSS = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	rows := []row{
		{scenario: "healthz", clients: 16, rssMiB: 21.3, stats: stats{
			Requests: 1000, ReqPerSec: 12345.6, P50: 1234 * time.Microsecond, P99: 5 * time.Millisecond,
		}},
		{scenario: "me", clients: 1, rssMiB: -1, stats: stats{Errors: 7}},
	}
	tests := []struct {
		format string
		want   string
	}{
		{"markdown", "| scenario | clients | req/s | p50 ms | p99 ms | errors | server RSS MiB |\n" +
			"|---|---:|---:|---:|---:|---:|---:|\n" +
			"| healthz | 16 | 12346 | 1.23 | 5.00 | 0 | 21.3 |\n" +
			"| me | 1 | 0 | - | - | 7 | - |\n"},
		{"tsv", "scenario\tclients\treq/s\tp50 ms\tp99 ms\terrors\tserver RSS MiB\n" +
			"healthz\t16\t12346\t1.23\t5.00\t0\t21.3\n" +
			"me\t1\t0\t-\t-\t7\t-\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		writeTable(&buf, tt.format, rows)
		if buf.String() != tt.want {
			t.Errorf("writeTable(%s) =\n%s\nwant\n%s", tt.format, buf.String(), tt.want)
		}
	}
}

func TestParseFlagsScenarioNeeds(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		errLike string // "" means no error
	}{
		{name: "order with token", args: []string{"-scenarios", "order", "-order-token", "tok"}},
		{name: "order without token", args: []string{"-scenarios", "order"}, errLike: "-order-token"},
		{name: "order token is not the offer token", args: []string{"-scenarios", "healthz,order", "-offer-token", "tok"}, errLike: "-order-token"},
		{name: "offer without token", args: []string{"-scenarios", "offer", "-order-token", "tok"}, errLike: "-offer-token"},
		{name: "me without login", args: []string{"-scenarios", "me"}, errLike: "-email"},
		{name: "healthz alone", args: []string{"-scenarios", "healthz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, io.Discard)
			if tt.errLike == "" {
				if err != nil {
					t.Fatalf("parseFlags(%q): unexpected error %v", tt.args, err)
				}
				if slices.Contains(cfg.scenarios, "order") && cfg.orderToken != "tok" {
					t.Errorf("orderToken = %q, want %q", cfg.orderToken, "tok")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errLike) {
				t.Errorf("parseFlags(%q) error = %v, want one mentioning %q", tt.args, err, tt.errLike)
			}
		})
	}
}

// orderCapture records the storefront orders a test server receives.
type orderCapture struct {
	mu       sync.Mutex
	problems []string
	users    []string
	keys     []string
}

func (c *orderCapture) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 5 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

var (
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$`)
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// orderServer answers every storefront order with status after checking
// its shape.
func orderServer(t *testing.T, status int, c *orderCapture) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer w.WriteHeader(status)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/storefront/orders" {
			c.fail("got %s %s", r.Method, r.URL.Path)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			c.fail("Content-Type %q", ct)
		}
		if a := r.Header.Get("Authorization"); a != "" {
			c.fail("Authorization %q on an anonymous order", a)
		}
		key := r.Header.Get("Idempotency-Key")
		if !uuidRE.MatchString(key) {
			c.fail("Idempotency-Key %q", key)
		}
		var body struct {
			Token    string `json:"token"`
			Username string `json:"username"`
			Customer struct {
				Name  string `json:"name"`
				Email string `json:"email"`
			} `json:"customer"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			c.fail("body: %v", err)
			return
		}
		u := body.Username
		if body.Token != "tok-0123456789abcdef" || !usernameRE.MatchString(u) ||
			body.Customer.Name != "Bench "+u || body.Customer.Email != u+"@bench.example" {
			c.fail("body %+v", body)
		}
		c.mu.Lock()
		c.users = append(c.users, u)
		c.keys = append(c.keys, key)
		c.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOrderScenario(t *testing.T) {
	tests := []struct {
		name   string
		status int
		wantOK bool // every answer counts as a success, else as an error
	}{
		{"accepted", http.StatusAccepted, true},
		{"ok is not accepted", http.StatusOK, false},
		{"username taken", http.StatusConflict, false},
		{"unprocessable", http.StatusUnprocessableEntity, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &orderCapture{}
			srv := orderServer(t, tt.status, c)
			cfg, err := parseFlags([]string{"-base", srv.URL, "-scenarios", "order", "-order-token", "tok-0123456789abcdef"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			client := newClient(4)
			spec, err := prepareScenario(client, cfg, "order")
			if err != nil {
				t.Fatal(err)
			}
			res := runLoad(client, spec, 4, 0, 200*time.Millisecond)

			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range c.problems {
				t.Error("server:", p)
			}
			if len(c.users) < 2 {
				t.Fatalf("server saw %d orders, want at least 2", len(c.users))
			}
			if u := slices.Compact(slices.Sorted(slices.Values(c.users))); len(u) != len(c.users) {
				t.Errorf("%d usernames over %d orders: not unique", len(u), len(c.users))
			}
			if k := slices.Compact(slices.Sorted(slices.Values(c.keys))); len(k) != len(c.keys) {
				t.Errorf("%d Idempotency-Keys over %d orders: not unique", len(k), len(c.keys))
			}
			// The server also sees requests that finish after the window.
			got := len(res.latencies) + res.errors
			if got == 0 || got > len(c.users) {
				t.Fatalf("counted %d requests, server saw %d", got, len(c.users))
			}
			if tt.wantOK {
				if res.errors != 0 || len(res.errSamples) != 0 {
					t.Errorf("errors = %d (%q), want none", res.errors, res.errSamples)
				}
			} else {
				want := []string{"HTTP " + strconv.Itoa(tt.status)}
				if len(res.latencies) != 0 || !slices.Equal(res.errSamples, want) {
					t.Errorf("successes = %d, error samples %q; want 0 and %q", len(res.latencies), res.errSamples, want)
				}
			}
		})
	}
}

func TestOtherScenariosSendNoBody(t *testing.T) {
	var mu sync.Mutex
	var problems []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodGet || len(b) != 0 || r.Header.Get("Idempotency-Key") != "" {
			mu.Lock()
			problems = append(problems, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	cfg, err := parseFlags([]string{"-base", srv.URL, "-scenarios", "healthz,offer", "-offer-token", "tok"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(2)
	for _, s := range cfg.scenarios {
		spec, err := prepareScenario(client, cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		res := runLoad(client, spec, 2, 0, 50*time.Millisecond)
		if len(res.latencies) == 0 || res.errors != 0 {
			t.Errorf("%s: %d successes, %d errors (%q); want 200 to count as success", s, len(res.latencies), res.errors, res.errSamples)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("unexpected requests: %q", problems[:min(len(problems), 3)])
	}
}
