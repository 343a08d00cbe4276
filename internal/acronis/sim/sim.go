// Package sim is an in-memory, protocol-faithful simulator of the Acronis
// Account Management API v2 (the subset described in
// shared/design/acronis-api.md). It serves the vendor surface under /api/2 and
// a control API under /_sim/.
package sim

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configures a simulator.
type Options struct {
	ClientID, ClientSecret    string // the SP's API client (client_credentials)
	AdminLogin, AdminPassword string // an SP admin user, for Basic auth and password grant
	Seed                      int64  // seeds the fault dice, the seeded ids and the usage generator
	Clock                     func() time.Time
	TokenTTL                  time.Duration // default 2h
	BaseURL                   string        // public base URL used in links
	// StateFile, when set, persists the simulator's data as JSON: New/Open
	// load it if it exists, and it is rewritten atomically after every
	// successful mutating /api/2 call and every /_sim/ change. Tokens are not
	// persisted.
	StateFile string
}

// Fault is a rule that makes matching /api/2 calls misbehave.
type Fault struct {
	Method      string        `json:"method,omitempty"`      // "" = any
	PathPrefix  string        `json:"path_prefix,omitempty"` // e.g. "/api/2/tenants"; "" = any
	Rate        float64       `json:"rate,omitempty"`        // 0..1 probability per matching call
	Status      int           `json:"status,omitempty"`      // respond with this status and a vendor error envelope
	Latency     time.Duration `json:"latency,omitempty"`
	Timeout     bool          `json:"timeout,omitempty"`      // hang until the client gives up, then drop
	Drop        bool          `json:"drop,omitempty"`         // close the connection without a response
	AfterEffect bool          `json:"after_effect,omitempty"` // apply the request first, then fail the response
	// PerCall decides each matching call by a hash of the seed, the call
	// (method, path and query) and how many times that call was made since
	// the faults were last cleared, instead of by one shared stream of dice:
	// the same calls fail whatever order concurrent callers make them in.
	PerCall bool `json:"per_call,omitempty"`
}

// Call is one entry of the call log.
type Call struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// Server is the simulator. It is an http.Handler.
type Server struct {
	opts Options

	mu      sync.Mutex
	saveMu  sync.Mutex // serialises Save; taken before mu
	offset  time.Duration
	baseURL string
	st      *state
	tokens  map[string]*session
	otts    map[string]*ott
	faults  []Fault
	calls   []Call
	rng     *rand.Rand
	counts  map[string]uint64 // calls per method, path and query, for PerCall faults

	// seeded ids, stable across Reset.
	rootID, spID, adminID, infraID, locationID string
}

const (
	defaultTokenTTL = 2 * time.Hour
	ottTTL          = 5 * time.Minute
	apiPrefix       = "/api/2"
	simPrefix       = "/_sim"
)

// New returns a simulator in its seeded state, or in the state loaded from
// opts.StateFile when that file exists. New panics if the state file exists
// but cannot be loaded (use Open to get the error instead): starting afresh
// would overwrite it on the next save.
func New(opts Options) *Server {
	s, err := Open(opts)
	if err != nil {
		panic(err)
	}
	return s
}

func newServer(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = defaultTokenTTL
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.AdminLogin == "" {
		opts.AdminLogin = DefaultAdminLogin
	}
	if opts.AdminPassword == "" {
		opts.AdminPassword = DefaultAdminPassword
	}
	s := &Server{
		opts:    opts,
		baseURL: strings.TrimRight(opts.BaseURL, "/"),
		tokens:  map[string]*session{},
		otts:    map[string]*ott{},
		rng:     rand.New(rand.NewPCG(uint64(opts.Seed), uint64(opts.Seed)^0x9e3779b97f4a7c15)),
	}
	var seed [32]byte
	for i := range 8 {
		seed[i] = byte(uint64(opts.Seed) >> (8 * i))
	}
	gen := rand.NewChaCha8(seed)
	next := func() string { return uuid.Must(uuid.NewRandomFromReader(gen)).String() }
	s.rootID, s.spID, s.adminID, s.infraID, s.locationID = next(), next(), next(), next(), next()
	s.st = s.seed()
	return s
}

// Demo credentials used when Options leave them empty.
const (
	DefaultClientID      = "3b8f9a8e-5c1d-4f8e-9d7a-2b6c1e0f4a11"
	DefaultClientSecret  = "sim-client-secret"
	DefaultAdminLogin    = "sp-admin"
	DefaultAdminPassword = "sp-admin-Passw0rd!"
)

// SetBaseURL sets the public base URL (scheme://host[:port]) used in links.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = strings.TrimRight(u, "/")
}

// SPTenantID returns the id of the seeded service-provider (partner) tenant.
func (s *Server) SPTenantID() string { return s.spID }

// ClientID returns the API client id the simulator accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// Advance moves the simulator clock forward by d.
func (s *Server) Advance(d time.Duration) {
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// now returns the simulator time. Callers hold s.mu.
func (s *Server) now() time.Time { return s.opts.Clock().Add(s.offset) }

// Now returns the simulator time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// SetFault adds a fault rule.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.counts = nil
}

// Calls returns a copy of the call log of /api/2 requests.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Reset restores the seeded state and clears faults, the call log and one-time
// tokens. Issued access tokens stay valid while their principal still exists;
// the clock offset is kept (simulator time never goes backwards).
func (s *Server) Reset() {
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = s.seed()
	s.faults = nil
	s.counts = nil
	s.calls = nil
	s.otts = map[string]*ott{}
}

// CountTenants returns the number of live (not deleted) tenants of a kind.
// Personal tenants of users are not counted.
func (s *Server) CountTenants(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.st.tenants {
		if t.DeletedAt == nil && !t.Personal && t.Kind == kind {
			n++
		}
	}
	return n
}

// CountUsers returns the number of live users.
func (s *Server) CountUsers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, u := range s.st.users {
		if u.DeletedAt == nil {
			n++
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == simPrefix || strings.HasPrefix(r.URL.Path, simPrefix+"/"):
		s.serveControl(w, r)
	case r.URL.Path == apiPrefix || strings.HasPrefix(r.URL.Path, apiPrefix+"/"):
		s.serveAPI(w, r)
	default:
		writeError(w, http.StatusNotFound, http.StatusNotFound, "Not Found", "The requested URL was not found on the server.")
	}
}

func (s *Server) newID() string { return uuid.NewString() }
