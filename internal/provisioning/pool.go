package provisioning

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/clock"
)

// Pool hands out one module per vendor account, so each account's token is
// issued once and shared by every order on plans that use it.
type Pool struct {
	clk     clock.Clock
	timeout time.Duration
	hc      *http.Client
	mu      sync.Mutex
	by      map[[32]byte]*Acronis
}

// NewPool makes an empty pool; timeout bounds one vendor call (0: the
// client's default).
func NewPool(clk clock.Clock, timeout time.Duration) *Pool {
	return &Pool{clk: clk, timeout: timeout, by: map[[32]byte]*Acronis{}}
}

// UseHTTPClient makes every module of the pool call over hc, e.g. one that
// guards the addresses it connects to (internal/egress). Call before use.
func (p *Pool) UseHTTPClient(hc *http.Client) { p.hc = hc }

// Module returns the module for an account.
func (p *Pool) Module(c Credentials) (*Acronis, error) {
	key := sha256.Sum256([]byte(c.URL + "\x00" + c.ClientID + "\x00" + c.ClientSecret))
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.by[key]; ok {
		return m, nil
	}
	cl, err := acronis.New(acronis.Config{BaseURL: c.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Clock: p.clk, AttemptTimeout: p.timeout,
		HTTPClient: p.hc})
	if err != nil {
		return nil, err
	}
	m := NewAcronis(cl)
	p.by[key] = m
	return m, nil
}
