package provisioning

import (
	"crypto/sha256"
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
	mu      sync.Mutex
	by      map[[32]byte]*Acronis
}

// NewPool makes an empty pool; timeout bounds one vendor call (0: the
// client's default).
func NewPool(clk clock.Clock, timeout time.Duration) *Pool {
	return &Pool{clk: clk, timeout: timeout, by: map[[32]byte]*Acronis{}}
}

// Module returns the module for an account.
func (p *Pool) Module(c Credentials) (*Acronis, error) {
	key := sha256.Sum256([]byte(c.URL + "\x00" + c.ClientID + "\x00" + c.ClientSecret))
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.by[key]; ok {
		return m, nil
	}
	cl, err := acronis.New(acronis.Config{BaseURL: c.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Clock: p.clk, AttemptTimeout: p.timeout})
	if err != nil {
		return nil, err
	}
	m := NewAcronis(cl)
	p.by[key] = m
	return m, nil
}
