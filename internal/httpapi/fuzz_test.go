package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api"
	"github.com/acronis-platform/platform/api/oapi"
)

// TestSpecFuzz sends every operation of api/openapi.yaml requests made from
// its schemas, most of them broken (wrong types, missing or unknown fields,
// out-of-range values, random strings and ids, bad parameters, bodies and
// content types) and some valid, as each role, against a whole platform
// with the vendor simulator. No answer may be a 5xx (502/503 for the vendor
// aside), and each must be one the spec declares for the operation, with
// its body and platform headers as declared.
//
// FUZZ_REQUESTS requests per role (default 60), FUZZ_SEED the seed (random
// when unset; printed), FUZZ_CLASSES the extra mutation classes, comma
// separated, "all" (the default) or "none" (see fuzzClasses), FUZZ_OPS a
// regexp of the operationIds to send (all when unset; the seeding still
// reads every list), FUZZ_TRACE a regexp of operationIds whose every
// answer is logged with the request's mutations.
func TestSpecFuzz(t *testing.T) {
	t.Parallel()
	perRole := envInt(t, "FUZZ_REQUESTS", 60)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FUZZ_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "FUZZ_SEED")
		seed = v
	}
	classes := parseClasses(t, os.Getenv("FUZZ_CLASSES"))

	f := newFuzzer(t, seed, classes)
	if s := os.Getenv("FUZZ_OPS"); s != "" {
		f.only = regexp.MustCompile(s)
		require.True(t, slices.ContainsFunc(f.ops, func(o fuzzOp) bool { return f.only.MatchString(o.op.OperationID) }), "FUZZ_OPS matches no operation")
	}
	if s := os.Getenv("FUZZ_TRACE"); s != "" {
		f.trace = regexp.MustCompile(s)
	}
	roles := f.seed(t)

	start := time.Now()
	var wg sync.WaitGroup
	for ri, r := range roles {
		wg.Go(func() {
			for i := range perRole {
				f.one(r, ri, i)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	s := f.stats
	total := s.requests
	// One line for scripts/bench.sh to read.
	t.Logf("fuzz: seed=%d roles=%d requests=%d 5xx=%d off_spec=%d vendor=%d seconds=%.1f rps=%.0f",
		seed, len(roles), total, s.fiveXX, s.offSpec, s.vendor, elapsed.Seconds(), float64(total)/elapsed.Seconds())
	if os.Getenv("FUZZ_VERBOSE") != "" {
		keys := make([]string, 0, len(s.byStatus))
		for k := range s.byStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("  %s: %d", k, s.byStatus[k])
		}
	}
	for _, fl := range f.failures {
		t.Errorf("%s\nreplay: FUZZ_SEED=%d FUZZ_CLASSES=%s (role %s, request %d)\n%s", fl.what, seed, strings.Join(classNames(classes), ","), fl.role, fl.index, fl.request)
	}
	if s.fiveXX+s.offSpec > len(f.failures) {
		t.Errorf("%d more failures of the same kinds not shown", s.fiveXX+s.offSpec-len(f.failures))
	}
}

// fuzzClasses are the mutation classes beyond the schema's own: each a kind
// of bad input that once reached the database. All are on by default;
// FUZZ_CLASSES picks some ("none" for the schema mutations alone).
var fuzzClasses = map[string]string{
	"bad_unicode":  "NUL, invalid UTF-8 and lone surrogates in strings (body, query, path)",
	"json_syntax":  "duplicate keys and trailing data after the JSON document",
	"unknown_ids":  "random ids for references in request bodies",
	"huge_numbers": "amounts, quantities and percentages at or beyond what a column holds",
	"old_dates":    "dates before the platform could have billed (year 0001)",
}

func parseClasses(t *testing.T, s string) map[string]bool {
	out := map[string]bool{}
	if s == "" {
		s = "all"
	}
	for c := range strings.SplitSeq(s, ",") {
		c = strings.TrimSpace(c)
		switch {
		case c == "", c == "none":
		case c == "all":
			for k := range fuzzClasses {
				out[k] = true
			}
		default:
			_, ok := fuzzClasses[c]
			require.True(t, ok, "FUZZ_CLASSES: unknown class %q", c)
			out[c] = true
		}
	}
	return out
}

func classNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	require.NoError(t, err, name)
	return v
}

type fuzzOp struct {
	method, path string
	op           *openapi3.Operation
	item         *openapi3.PathItem
	params       openapi3.Parameters
	roles        []string
}

type fuzzRole struct {
	name   string
	bearer string
	// own are ids the fuzz must not delete or revoke (its callers).
	own map[string]bool
}

type fuzzFailure struct {
	what, role, request string
	index               int
}

type fuzzStats struct {
	requests, fiveXX, offSpec, vendor int
	byStatus                          map[string]int
}

type fuzzer struct {
	t       *testing.T
	seedVal uint64
	classes map[string]bool
	doc     *openapi3.T
	ops     []fuzzOp
	base    string
	client  *http.Client

	mu       sync.Mutex
	pools    map[string][]string // collection ("plans", "services") -> ids
	keys     map[string][]string // role -> Idempotency-Keys it used
	own      map[string]bool
	stats    fuzzStats
	failures []fuzzFailure
	seen     map[string]bool

	only  *regexp.Regexp // FUZZ_OPS
	trace *regexp.Regexp // FUZZ_TRACE
	// importMu sends one import at a time, so storedCards before and
	// after tells whether a refused one stored anything.
	importMu    sync.Mutex
	storedCards func() int
}

func newFuzzer(t *testing.T, seed uint64, classes map[string]bool) *fuzzer {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	doc.Servers = nil
	f := &fuzzer{t: t, seedVal: seed, classes: classes, doc: doc, client: &http.Client{Timeout: time.Minute},
		pools: map[string][]string{}, keys: map[string][]string{}, own: map[string]bool{}, seen: map[string]bool{}, stats: fuzzStats{byStatus: map[string]int{}}}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			var roles []string
			if r, ok := op.Extensions["x-roles"].([]any); ok {
				for _, v := range r {
					roles = append(roles, fmt.Sprint(v))
				}
			}
			f.ops = append(f.ops, fuzzOp{method: method, path: path, op: op, item: item, params: params, roles: roles})
		}
	}
	sort.Slice(f.ops, func(i, j int) bool { return f.ops[i].path+f.ops[i].method < f.ops[j].path+f.ops[j].method })
	require.NotEmpty(t, f.ops)
	return f
}

// seed builds a shop with one of most things (a partner with its vendor
// account, plans, a completed service with its order and customer, an
// invoice, an API key) and returns the callers: admin, partner, customer,
// API key and anonymous.
func (f *fuzzer) seed(t *testing.T) []fuzzRole {
	s := newShop(t)
	f.base = s.env.Server.URL
	ctx := context.Background()
	_, postToken := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, partnerVisible: true, quantity: true})
	_, preToken := s.plan(t, planOpts{autoApprove: true})
	done := s.activeService(t, postToken)
	pending := place(t, s.env.Client(t, ""), storefrontOrder(preToken, newLogin()))
	require.Equal(t, http.StatusAccepted, pending.StatusCode(), string(pending.Body))
	p, _ := s.activePartner(t)
	_, partnerToken := s.env.PartnerUser(t, &p.Id)
	_, customerToken := s.env.CustomerUser(t, &done.CustomerId)
	key, err := s.admin.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "fuzz"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode(), string(key.Body))
	f.own[key.JSON201.Id.String()] = true
	adminUser := s.env.NewUser(t, "admin", nil, nil)
	f.own[adminUser.ID.String()] = true
	adminToken := s.env.Login(t, adminUser)

	// Every id a list shows, by collection.
	for _, op := range f.ops {
		if op.method != http.MethodGet || strings.Contains(op.path, "{") {
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, f.base+op.path+"?limit=200", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := f.client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			f.harvest(op.path, b)
		}
	}
	for _, tok := range []string{postToken, preToken} {
		f.add("offer-tokens", tok)
	}
	// A rate card, so the reads of one have one to read.
	var groups []string
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT id::text FROM product_groups WHERE module = 'acronis' ORDER BY id LIMIT 1").Scan(&groups).Error)
	if len(groups) > 0 {
		var form fuzzReq
		form.header = http.Header{}
		f.formBody(rand.New(rand.NewPCG(f.seedVal, 0)), &form, "")
		req, _ := http.NewRequest(http.MethodPost, f.base+"/v1/product-groups/"+groups[0]+"/rate-cards", bytes.NewReader(form.body))
		req.Header = form.header
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := f.client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
		f.harvest("/v1/rate-cards", b)
	}
	f.storedCards = func() int {
		var n int
		if err := s.env.App.DB.Gorm.Raw("SELECT (SELECT count(*) FROM rate_cards) + (SELECT count(*) FROM rate_card_rows)").Row().Scan(&n); err != nil {
			t.Errorf("counting rate cards: %v", err)
		}
		return n
	}
	// Users and keys of the callers stay, so each caller keeps working.
	var users []string
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT id::text FROM users").Scan(&users).Error)
	for _, id := range users {
		f.own[id] = true
	}
	var partnerIDs []string
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT id::text FROM partners").Scan(&partnerIDs).Error)
	for _, id := range partnerIDs {
		f.add("partners", id)
	}
	return []fuzzRole{
		{name: "admin", bearer: adminToken},
		{name: "partner", bearer: partnerToken},
		{name: "customer", bearer: customerToken},
		{name: "api_key", bearer: key.JSON201.Secret},
		{name: "anonymous"},
	}
}

// collection names the pool of a path's ids: /v1/plans/{id} -> plans,
// /v1/services/{id}/operations/{operation_id} -> operations.
func collection(path, param string) string {
	switch param {
	case "plan_id":
		return "plans"
	case "operation_id":
		return "service-operations"
	case "token":
		return "offer-tokens"
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if s == "{"+param+"}" && i > 0 {
			return segs[i-1]
		}
	}
	return ""
}

// poolOf maps a body field naming a reference to its pool:
// product_group_id -> product-groups.
func poolOf(field string) string {
	base, ok := strings.CutSuffix(field, "_id")
	if !ok {
		return ""
	}
	switch base {
	case "operation":
		return "service-operations"
	case "tax":
		return "taxes"
	}
	return strings.ReplaceAll(base, "_", "-") + "s"
}

func (f *fuzzer) add(pool, id string) {
	if pool == "" || id == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pools[pool]) < 200 && !slices.Contains(f.pools[pool], id) {
		f.pools[pool] = append(f.pools[pool], id)
	}
}

func (f *fuzzer) pick(rng *rand.Rand, pool string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.pools[pool]
	if len(ids) == 0 {
		return "", false
	}
	return ids[rng.IntN(len(ids))], true
}

// harvest adds the ids of a 2xx body (one resource or a list) to the pool
// of the path's collection.
func (f *fuzzer) harvest(path string, body []byte) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	coll := ""
	for _, s := range segs {
		if !strings.HasPrefix(s, "{") && s != "v1" {
			coll = s
		}
	}
	if coll == "operations" {
		coll = "service-operations"
	}
	var one struct {
		ID   string `json:"id"`
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &one) != nil {
		return
	}
	f.add(coll, one.ID)
	for _, d := range one.Data {
		f.add(coll, d.ID)
	}
}

// fuzzReq is one generated request.
type fuzzReq struct {
	op          *fuzzOp
	method, url string
	header      http.Header
	body        []byte
	mutations   []string
}

func (r fuzzReq) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %s   (%s; mutations: %s)\n", r.method, r.url, r.op.op.OperationID, strings.Join(r.mutations, ", "))
	keys := make([]string, 0, len(r.header))
	for k := range r.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := r.header.Get(k)
		if k == "Authorization" && len(v) > 24 {
			v = v[:24] + "..."
		}
		fmt.Fprintf(&b, "  %s: %s\n", k, v)
	}
	body := r.body
	if len(body) > 2000 {
		body = append(body[:2000:2000], "...(truncated)"...)
	}
	fmt.Fprintf(&b, "  %q\n", body)
	return b.String()
}

// idemKey is a new Idempotency-Key, or now and then one the role used
// before (a replay, or a reuse with another body).
func (f *fuzzer) idemKey(rng *rand.Rand, role string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	used := f.keys[role]
	if len(used) > 0 && rng.IntN(6) == 0 {
		return used[rng.IntN(len(used))]
	}
	k := uuid.NewString()
	if len(used) < 20 {
		f.keys[role] = append(used, k)
	}
	return k
}

// pickOp is mostly an operation the role may call (the rest answer 401 or
// 403 before any validation), sometimes any.
func (f *fuzzer) pickOp(rng *rand.Rand, r fuzzRole) *fuzzOp {
	want := r.name
	if want == "anonymous" {
		want = "public"
	}
	var all, allowed []*fuzzOp
	for i := range f.ops {
		if f.only != nil && !f.only.MatchString(f.ops[i].op.OperationID) {
			continue
		}
		all = append(all, &f.ops[i])
		if slices.Contains(f.ops[i].roles, want) {
			allowed = append(allowed, &f.ops[i])
		}
	}
	if rng.IntN(6) != 0 && len(allowed) > 0 {
		return allowed[rng.IntN(len(allowed))]
	}
	return all[rng.IntN(len(all))]
}

// one generates, sends and checks request i of role r.
func (f *fuzzer) one(r fuzzRole, roleIndex, i int) {
	rng := rand.New(rand.NewPCG(f.seedVal, uint64(roleIndex)<<32|uint64(i)))
	op := f.pickOp(rng, r)
	req := f.generate(rng, op, r)
	hreq, err := http.NewRequest(req.method, req.url, bytes.NewReader(req.body))
	if err != nil { // a URL the client refuses to send is no test of the server
		return
	}
	hreq.Header = req.header
	if r.bearer != "" {
		hreq.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	before := -1
	if op.op.OperationID == "importRateCard" && f.storedCards != nil {
		f.importMu.Lock()
		defer f.importMu.Unlock()
		before = f.storedCards()
	}
	res, err := f.client.Do(hreq)
	if err != nil {
		f.fail(r, i, req, "transport", fmt.Sprintf("request failed: %v", err))
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if before >= 0 && res.StatusCode/100 != 2 {
		if after := f.storedCards(); after != before {
			f.fail(r, i, req, "5xx-like: refusal stored", fmt.Sprintf("%s answered %d but stored %d card rows more: %s",
				op.op.OperationID, res.StatusCode, after-before, truncate(body)))
		}
	}
	if res.StatusCode/100 == 2 && req.method != http.MethodDelete {
		f.harvest(op.path, body)
	}
	f.check(r, i, req, res, body)
}

var vendorCodes = map[string]bool{"vendor_unreachable": true, "vendor_not_configured": true, "vendor_credentials_invalid": true}

// platformHeaders are the headers the platform sets that the spec must
// declare wherever they are sent.
var platformHeaders = []string{"ETag", "X-Request-Id", "Idempotent-Replayed", "Retry-After", "Location",
	"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}

func (f *fuzzer) check(r fuzzRole, i int, req fuzzReq, res *http.Response, body []byte) {
	code := ""
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(body, &p)
		code = p.Code
	}
	if f.trace != nil && f.trace.MatchString(req.op.op.OperationID) {
		f.t.Logf("trace %s %d %s <- %s", req.op.op.OperationID, res.StatusCode, code, strings.Join(req.mutations, ", "))
	}
	f.mu.Lock()
	f.stats.requests++
	f.stats.byStatus[strings.TrimSpace(fmt.Sprintf("%s %d %s", req.op.op.OperationID, res.StatusCode, code))]++
	f.mu.Unlock()
	if res.StatusCode >= 500 {
		if (res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable) && vendorCodes[code] {
			f.mu.Lock()
			f.stats.vendor++
			f.mu.Unlock()
		} else {
			f.fail(r, i, req, fmt.Sprintf("5xx %s %d %s", req.op.op.OperationID, res.StatusCode, code),
				fmt.Sprintf("%s answered %d: %s", req.op.op.OperationID, res.StatusCode, truncate(body)))
			return
		}
	}
	u, _ := url.Parse(req.url)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: &http.Request{Method: req.method, URL: u, Header: req.header},
			Route:   fuzzRoute(f.doc, req.op),
		},
		Status:  res.StatusCode,
		Header:  res.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		f.offSpec(r, i, req, res, code, fmt.Sprintf("answer not in the spec: %v\nbody: %s", err, truncate(body)))
		return
	}
	declared := req.op.op.Responses.Status(res.StatusCode)
	if declared == nil {
		declared = req.op.op.Responses.Default()
	}
	if declared != nil && declared.Value != nil {
		for _, h := range platformHeaders {
			if res.Header.Get(h) == "" {
				continue
			}
			if _, ok := headerOf(declared.Value.Headers, h); !ok {
				f.offSpec(r, i, req, res, code, fmt.Sprintf("header %s sent but not declared for %d", h, res.StatusCode))
				return
			}
		}
	}
}

func headerOf(hs openapi3.Headers, name string) (*openapi3.HeaderRef, bool) {
	for k, v := range hs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func fuzzRoute(doc *openapi3.T, op *fuzzOp) *routers.Route {
	return &routers.Route{Spec: doc, Path: op.path, PathItem: op.item, Method: op.method, Operation: op.op}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

func (f *fuzzer) offSpec(r fuzzRole, i int, req fuzzReq, res *http.Response, code, msg string) {
	f.mu.Lock()
	f.stats.offSpec++
	f.mu.Unlock()
	f.record(r, i, req, fmt.Sprintf("off-spec %s %d %s", req.op.op.OperationID, res.StatusCode, code), msg)
}

func (f *fuzzer) fail(r fuzzRole, i int, req fuzzReq, key, msg string) {
	if strings.HasPrefix(key, "5xx") {
		f.mu.Lock()
		f.stats.fiveXX++
		f.mu.Unlock()
	}
	f.record(r, i, req, key, msg)
}

// record keeps the first failure of each kind, with its request.
func (f *fuzzer) record(r fuzzRole, i int, req fuzzReq, key, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[key] || len(f.failures) >= 60 {
		return
	}
	f.seen[key] = true
	f.failures = append(f.failures, fuzzFailure{what: key + ": " + msg, role: r.name, index: i, request: req.String()})
}

// --- generation ---------------------------------------------------------------

// Markers the body is built with, replaced by raw bytes after encoding
// (json.Marshal would repair them).
const (
	markInvalidUTF8 = "\x01INVALID_UTF8\x01"
	markSurrogate   = "\x01LONE_SURROGATE\x01"
)

func (f *fuzzer) generate(rng *rand.Rand, op *fuzzOp, r fuzzRole) fuzzReq {
	req := fuzzReq{op: op, method: strings.ToUpper(op.method), header: http.Header{}}
	valid := rng.IntN(4) == 0
	if valid {
		req.mutations = append(req.mutations, "none")
	}
	// Which part gets broken, when broken.
	target := ""
	if !valid {
		target = []string{"path", "query", "header", "body", "body", "body", "body", "content"}[rng.IntN(8)]
	}

	path := op.path
	for _, p := range op.params {
		pv := p.Value
		if pv.In != "path" {
			continue
		}
		v := f.pathValue(rng, op.path, pv, r)
		if target == "path" && rng.IntN(2) == 0 {
			// An empty segment is another route (or none), not this one.
			for v = f.badString(rng, "path"); v == ""; v = f.badString(rng, "path") {
			}
			req.mutations = append(req.mutations, "path "+pv.Name)
		}
		path = strings.ReplaceAll(path, "{"+pv.Name+"}", url.PathEscape(v))
	}

	q := url.Values{}
	for _, p := range op.params {
		pv := p.Value
		switch pv.In {
		case "query":
			if pv.Required || rng.IntN(3) == 0 {
				v := scalarString(f.value(rng, pv.Schema, pv.Name, 0))
				// The parameter's own example (the schema's is taken in
				// value): often the only value a rule accepts (year).
				if pv.Example != nil && rng.IntN(2) == 0 {
					v = scalarString(pv.Example)
				}
				q.Set(pv.Name, v)
			}
			if target == "query" && rng.IntN(2) == 0 {
				q.Set(pv.Name, f.badScalar(rng, pv.Schema))
				req.mutations = append(req.mutations, "query "+pv.Name)
			}
		case "header":
			if pv.Required || rng.IntN(2) == 0 {
				v := scalarString(f.value(rng, pv.Schema, pv.Name, 0))
				if pv.Name == "Idempotency-Key" {
					v = f.idemKey(rng, r.name)
				}
				req.header.Set(pv.Name, v)
			}
			if target == "header" && rng.IntN(2) == 0 {
				if rng.IntN(2) == 0 {
					req.header.Del(pv.Name)
				} else {
					req.header.Set(pv.Name, f.badHeader(rng))
				}
				req.mutations = append(req.mutations, "header "+pv.Name)
			}
		}
	}
	if target == "query" && rng.IntN(3) == 0 {
		q.Set(randomName(rng), "x")
		req.mutations = append(req.mutations, "unknown query parameter")
	}
	req.url = f.base + path
	if len(q) > 0 {
		req.url += "?" + q.Encode()
	}

	if op.op.RequestBody == nil || op.op.RequestBody.Value == nil {
		if target == "content" || target == "body" {
			// A body where none is expected.
			req.body = []byte(`{"x":1}`)
			req.header.Set("Content-Type", "application/json")
			req.mutations = append(req.mutations, "unexpected body")
		}
		return req
	}
	if op.op.RequestBody.Value.Content.Get("multipart/form-data") != nil {
		f.formBody(rng, &req, target)
		return req
	}
	mt := op.op.RequestBody.Value.Content.Get("application/json")
	var doc any
	if mt != nil && mt.Schema != nil {
		doc = f.value(rng, mt.Schema, "", 0)
	}
	if target == "body" && mt != nil {
		doc = f.mutate(rng, doc, mt.Schema, &req.mutations)
	}
	b, _ := json.Marshal(doc)
	b = bytes.ReplaceAll(b, []byte(jsonString(markInvalidUTF8)[1:len(jsonString(markInvalidUTF8))-1]), []byte{0xff, 0xfe})
	b = bytes.ReplaceAll(b, []byte(jsonString(markSurrogate)[1:len(jsonString(markSurrogate))-1]), []byte(`\ud800`))
	req.body = b
	req.header.Set("Content-Type", "application/json")
	if target == "body" && f.classes["json_syntax"] && rng.IntN(4) == 0 {
		if rng.IntN(2) == 0 {
			req.body = append(req.body, []byte(` {"extra":1}`)...)
			req.mutations = append(req.mutations, "trailing data")
		} else if bytes.HasPrefix(req.body, []byte("{")) && len(req.body) > 2 {
			if obj, ok := doc.(map[string]any); ok && len(obj) > 0 {
				for k := range obj {
					req.body = append([]byte(`{`+jsonString(k)+`:null,`), req.body[1:]...)
					break
				}
				req.mutations = append(req.mutations, "duplicate key")
			}
		}
	}
	if target == "content" {
		switch rng.IntN(7) {
		case 0:
			req.body = nil
			req.mutations = append(req.mutations, "empty body")
		case 1:
			req.header.Set("Content-Type", []string{"text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1"}[rng.IntN(5)])
			req.mutations = append(req.mutations, "content type "+req.header.Get("Content-Type"))
		case 2:
			req.header.Del("Content-Type")
			req.mutations = append(req.mutations, "no content type")
		case 3:
			req.body = []byte([]string{"{", "[]", "null", "1", `"x"`, "{]", "{\"a\":}", "   "}[rng.IntN(8)])
			req.mutations = append(req.mutations, "not an object")
		case 4:
			if rng.IntN(8) == 0 {
				req.body = append(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 1<<20+10)...), '"', '}')
				req.mutations = append(req.mutations, "oversized body")
			} else {
				req.body = bytes.Repeat([]byte(" "), 100)
				req.mutations = append(req.mutations, "blank body")
			}
		case 5:
			req.body = append(req.body[:len(req.body)/2:len(req.body)/2], '"')
			req.mutations = append(req.mutations, "truncated body")
		case 6:
			req.body = []byte(`{"` + strings.Repeat(`a":{"`, 200) + `a":1` + strings.Repeat("}", 201))
			req.mutations = append(req.mutations, "deep nesting")
		}
	}
	return req
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func (f *fuzzer) pathValue(rng *rand.Rand, path string, p *openapi3.Parameter, r fuzzRole) string {
	if p.Name == "username" {
		return "user-" + strconv.Itoa(rng.IntN(1e6))
	}
	pool := collection(path, p.Name)
	if rng.IntN(8) != 0 {
		for range 4 {
			if id, ok := f.pick(rng, pool); ok && !(f.own[id] && (pool == "users" || pool == "api-keys")) {
				return id
			}
		}
	}
	if p.Name == "token" {
		return randomName(rng)
	}
	return uuid.NewString()
}

func randomName(rng *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz_"
	n := 1 + rng.IntN(12)
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

// badString is a string to put where an id, a name or a token goes.
func (f *fuzzer) badString(rng *rand.Rand, where string) string {
	opts := []string{"not-a-uuid", "0", "-1", "00000000-0000-0000-0000-000000000000", strings.Repeat("a", 300),
		"' OR 1=1 --", "../etc/passwd", "%", "ü", "😀", " ", "null", "{id}", uuid.NewString() + "x",
		strings.ToUpper(uuid.NewString()), randomString(rng)}
	if f.classes["bad_unicode"] {
		opts = append(opts, "a\x00b", "\xff\xfe", "\xed\xa0\x80")
	}
	return opts[rng.IntN(len(opts))]
}

func (f *fuzzer) badHeader(rng *rand.Rand) string {
	v := []string{"", strings.Repeat("k", 300), "\"", "W/\"1\"", "*", "-1", "ü", randomString(rng)}[rng.IntN(8)]
	// Only what a client can send in a header.
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// badScalar is a query value of the wrong type or out of range.
func (f *fuzzer) badScalar(rng *rand.Rand, s *openapi3.SchemaRef) string {
	opts := []string{"", "abc", "-1", "0", "1e309", "99999999999999999999", "true", "[]", "%", strings.Repeat("z", 600),
		"2026-13-45", "not-a-date", uuid.NewString(), randomString(rng)}
	if f.classes["bad_unicode"] {
		opts = append(opts, "a\x00", "\xff")
	}
	if f.classes["old_dates"] && s != nil && s.Value != nil && s.Value.Format == "date" {
		opts = append(opts, "0001-01-01", "1900-01-01")
	}
	return opts[rng.IntN(len(opts))]
}

func randomString(rng *rand.Rand) string {
	runes := []rune("abcXYZ019 -_.,;:!?@#$%^&*()[]{}<>\"'\\/\t\nüéß€中文😀")
	n := rng.IntN(40)
	b := make([]rune, n)
	for i := range b {
		b[i] = runes[rng.IntN(len(runes))]
	}
	return string(b)
}

// value is a valid instance of schema s (as far as a generator can tell:
// references come from the pools, patterns from their regexp).
func (f *fuzzer) value(rng *rand.Rand, sr *openapi3.SchemaRef, name string, depth int) any {
	if sr == nil || sr.Value == nil {
		return "x"
	}
	s := sr.Value
	if len(s.AllOf) > 0 {
		out := map[string]any{}
		for _, part := range s.AllOf {
			if m, ok := f.value(rng, part, name, depth).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		return out
	}
	if len(s.OneOf) > 0 {
		return f.value(rng, s.OneOf[rng.IntN(len(s.OneOf))], name, depth)
	}
	if len(s.AnyOf) > 0 {
		return f.value(rng, s.AnyOf[rng.IntN(len(s.AnyOf))], name, depth)
	}
	if len(s.Enum) > 0 {
		return s.Enum[rng.IntN(len(s.Enum))]
	}
	if s.Example != nil && rng.IntN(2) == 0 && !(s.Type.Is("string") && s.Format == "uuid") {
		return s.Example
	}
	switch {
	case s.Type.Is("object") || (s.Type == nil && len(s.Properties) > 0):
		out := map[string]any{}
		if depth > 6 {
			return out
		}
		for k, p := range s.Properties {
			if p.Value != nil && p.Value.ReadOnly {
				continue
			}
			if slices.Contains(s.Required, k) || rng.IntN(2) == 0 {
				out[k] = f.value(rng, p, k, depth+1)
			}
		}
		if ap := s.AdditionalProperties.Schema; ap != nil && len(s.Properties) == 0 {
			for range rng.IntN(3) {
				out[randomName(rng)] = f.value(rng, ap, "", depth+1)
			}
		}
		return out
	case s.Type.Is("array"):
		lo := int(s.MinItems)
		hi := lo + 3
		if s.MaxItems != nil && int(*s.MaxItems) < hi {
			hi = int(*s.MaxItems)
		}
		n := lo
		if hi > lo {
			n += rng.IntN(hi - lo + 1)
		}
		out := make([]any, n)
		for i := range out {
			out[i] = f.value(rng, s.Items, name, depth+1)
		}
		if s.UniqueItems {
			seen := map[string]bool{}
			uniq := out[:0]
			for _, v := range out {
				k := fmt.Sprint(v)
				if !seen[k] {
					seen[k] = true
					uniq = append(uniq, v)
				}
			}
			out = uniq
		}
		return out
	case s.Type.Is("integer"):
		return float64(f.number(rng, s, true))
	case s.Type.Is("number"):
		return f.number(rng, s, false)
	case s.Type.Is("boolean"):
		return rng.IntN(2) == 0
	}
	return f.str(rng, s, name)
}

func (f *fuzzer) number(rng *rand.Rand, s *openapi3.Schema, integer bool) float64 {
	lo, hi := 0.0, 10.0
	if s.Min != nil {
		lo = *s.Min
		if hi < lo {
			hi = lo + 10
		}
	}
	if s.Max != nil {
		hi = *s.Max
		if lo > hi {
			lo = hi - 10
		}
	}
	// Stay small unless huge numbers are asked for: a bound of a billion
	// on a quantity is a bound, not a typical value.
	if !f.classes["huge_numbers"] && hi > lo+100 {
		hi = lo + 100
	}
	v := lo + rng.Float64()*(hi-lo)
	if integer {
		v = math.Floor(v)
		if s.Min != nil && v < *s.Min {
			v = math.Ceil(*s.Min)
		}
	}
	if f.classes["huge_numbers"] && rng.IntN(4) == 0 {
		if s.Max != nil {
			v = *s.Max
		} else {
			v = 1e15
		}
	}
	if s.MultipleOf != nil && *s.MultipleOf > 0 {
		v = math.Floor(v / *s.MultipleOf) * *s.MultipleOf
	}
	return v
}

func (f *fuzzer) str(rng *rand.Rand, s *openapi3.Schema, name string) string {
	switch s.Format {
	case "uuid":
		if id, ok := f.pick(rng, poolOf(name)); ok && (!f.classes["unknown_ids"] || rng.IntN(2) == 0) {
			return id
		}
		if f.classes["unknown_ids"] || poolOf(name) == "" {
			return uuid.NewString() // unknown: with unknown_ids a "valid" request may carry one
		}
		// No pool for this reference yet: a random id would only test the
		// foreign keys, which unknown_ids covers.
		return "00000000-0000-0000-0000-000000000000"
	case "email":
		return "fuzz-" + strconv.Itoa(rng.IntN(1e9)) + "@example.com"
	case "date":
		if f.classes["old_dates"] && rng.IntN(6) == 0 {
			return "0001-01-01"
		}
		return time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	case "date-time":
		if f.classes["old_dates"] && rng.IntN(6) == 0 {
			return "0001-01-01T00:00:00Z"
		}
		return time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC).Format(time.RFC3339)
	case "uri", "url":
		return "https://example.com/" + randomName(rng)
	case "password":
		return "pw-" + strconv.Itoa(rng.IntN(1e9)) + "-long-enough"
	}
	if s.Pattern != "" {
		if v, ok := fromPattern(rng, s.Pattern, s); ok {
			return v
		}
		if s.Example != nil {
			return fmt.Sprint(s.Example)
		}
	}
	lo := int(s.MinLength)
	hi := lo + 12
	if s.MaxLength != nil && int(*s.MaxLength) < hi {
		hi = int(*s.MaxLength)
	}
	n := lo
	if hi > lo {
		n += rng.IntN(hi - lo + 1)
	}
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

var patternCache sync.Map

// fromPattern is a string matching pattern, built from its syntax tree.
func fromPattern(rng *rand.Rand, pattern string, s *openapi3.Schema) (string, bool) {
	var re *syntax.Regexp
	if v, ok := patternCache.Load(pattern); ok {
		re = v.(*syntax.Regexp)
	} else {
		p, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			return "", false
		}
		re = p.Simplify()
		patternCache.Store(pattern, re)
	}
	check := regexp.MustCompile(pattern)
	for range 10 {
		var b strings.Builder
		genRegexp(rng, re, &b)
		out := b.String()
		n := utf8.RuneCountInString(out)
		if check.MatchString(out) && n >= int(s.MinLength) && (s.MaxLength == nil || n <= int(*s.MaxLength)) {
			return out, true
		}
	}
	return "", false
}

func genRegexp(rng *rand.Rand, re *syntax.Regexp, b *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		// Pairs of ranges; prefer printable ASCII.
		var total int
		for i := 0; i+1 < len(re.Rune); i += 2 {
			hi := min(re.Rune[i+1], 0x7e)
			if hi >= re.Rune[i] {
				total += int(hi-re.Rune[i]) + 1
			}
		}
		if total == 0 {
			if len(re.Rune) > 0 {
				b.WriteRune(re.Rune[0])
			}
			return
		}
		k := rng.IntN(total)
		for i := 0; i+1 < len(re.Rune); i += 2 {
			hi := min(re.Rune[i+1], 0x7e)
			if hi < re.Rune[i] {
				continue
			}
			n := int(hi-re.Rune[i]) + 1
			if k < n {
				b.WriteRune(re.Rune[i] + rune(k))
				return
			}
			k -= n
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte(byte('a' + rng.IntN(26)))
	case syntax.OpCapture:
		genRegexp(rng, re.Sub[0], b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			genRegexp(rng, s, b)
		}
	case syntax.OpAlternate:
		genRegexp(rng, re.Sub[rng.IntN(len(re.Sub))], b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+3 {
				hi = lo + 3
			}
		}
		n := lo + rng.IntN(hi-lo+1)
		for range n {
			genRegexp(rng, re.Sub[0], b)
		}
	}
}

// mutate breaks a valid body one way.
func (f *fuzzer) mutate(rng *rand.Rand, doc any, sr *openapi3.SchemaRef, muts *[]string) any {
	obj, ok := doc.(map[string]any)
	if !ok || len(obj) == 0 || rng.IntN(10) == 0 {
		*muts = append(*muts, "whole body replaced")
		return []any{[]any{}, "x", 1.5, nil, true, map[string]any{}}[rng.IntN(6)]
	}
	// Walk down to a random object (nested objects and arrays of them).
	parent := obj
	path := ""
	for rng.IntN(2) == 0 {
		keys := sortedKeys(parent)
		k := keys[rng.IntN(len(keys))]
		next := parent[k]
		if arr, ok := next.([]any); ok && len(arr) > 0 {
			next = arr[rng.IntN(len(arr))]
		}
		m, ok := next.(map[string]any)
		if !ok || len(m) == 0 {
			break
		}
		parent, path = m, path+k+"."
	}
	keys := sortedKeys(parent)
	k := keys[rng.IntN(len(keys))]
	switch rng.IntN(8) {
	case 0:
		delete(parent, k)
		*muts = append(*muts, "drop "+path+k)
	case 1:
		parent[randomName(rng)+"_unknown"] = "x"
		*muts = append(*muts, "unknown field in "+path)
	case 2:
		parent[k] = wrongType(rng, parent[k])
		*muts = append(*muts, "wrong type "+path+k)
	case 3:
		parent[k] = nil
		*muts = append(*muts, "null "+path+k)
	case 4, 5:
		parent[k] = f.badValue(rng, parent[k])
		*muts = append(*muts, "bad value "+path+k)
	case 6:
		// A string of the right type but random content.
		parent[k] = randomString(rng)
		*muts = append(*muts, "random string "+path+k)
	case 7:
		parent[k] = strings.Repeat("x", 1+rng.IntN(5000))
		*muts = append(*muts, "long string "+path+k)
	}
	return obj
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func wrongType(rng *rand.Rand, v any) any {
	switch v.(type) {
	case string:
		return []any{1.0, true, []any{"x"}, map[string]any{}}[rng.IntN(4)]
	case float64:
		return []any{"1", true, []any{1.0}, 1.5}[rng.IntN(4)]
	case bool:
		return []any{"true", 1.0, nil}[rng.IntN(3)]
	case []any:
		return []any{"x", map[string]any{}, 1.0}[rng.IntN(3)]
	case map[string]any:
		return []any{"x", []any{}, 1.0}[rng.IntN(3)]
	}
	return "x"
}

// badValue is a value of the right type that the spec or the rules refuse.
func (f *fuzzer) badValue(rng *rand.Rand, v any) any {
	switch x := v.(type) {
	case string:
		opts := []any{"", " ", "-1", "0", "-0.01", "1.001", "12.345", "9999999999999.99", "abc", uuid.NewString(), "2026-02-30",
			"2026-11-25T10:00:00", "ftp://x", "http://127.0.0.1:1/", "a@b", strings.ToUpper(x), x + x, randomString(rng)}
		// The enabled classes get a third of the picks.
		var extra []any
		if f.classes["bad_unicode"] {
			extra = append(extra, x+"\x00", markInvalidUTF8, "x"+markSurrogate)
		}
		if f.classes["huge_numbers"] {
			extra = append(extra, "999999999999.99", "1e400")
		}
		if f.classes["old_dates"] {
			extra = append(extra, "0001-01-01", "0001-01-01T00:00:00Z")
		}
		if len(extra) > 0 && rng.IntN(3) == 0 {
			return extra[rng.IntN(len(extra))]
		}
		return opts[rng.IntN(len(opts))]
	case float64:
		opts := []any{-1.0, 0.0, 0.5, -1e9, 1001.0, 1e6}
		if f.classes["huge_numbers"] {
			opts = append(opts, 1e15, 1e300, 2147483648.0, 9223372036854775807.0)
		}
		return opts[rng.IntN(len(opts))]
	case []any:
		if len(x) == 0 {
			return []any{"x", 1.0}
		}
		return append(x, x...) // duplicates
	case map[string]any:
		return map[string]any{randomName(rng): randomString(rng)}
	}
	return randomString(rng)
}
