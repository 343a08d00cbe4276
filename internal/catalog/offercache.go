package catalog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"
)

// offerChannel is the PostgreSQL channel that tells every instance a plan,
// its pricing or its settings changed, so cached offers are dropped.
const offerChannel = "catalog_offers_changed"

// offerTTL bounds how long an offer may be served from memory should a
// change notice be missed (for example while the listener reconnects).
const offerTTL = 5 * time.Second

// offerCache keeps resolved offers in memory: storefronts read them on
// every page view. A generation counter stops a read that raced a change
// from storing what it read before the change.
type offerCache struct {
	mu      sync.RWMutex
	gen     uint64
	entries map[string]cachedOffer
}

type cachedOffer struct {
	offer Offer
	until time.Time
}

func newOfferCache() *offerCache { return &offerCache{entries: map[string]cachedOffer{}} }

func (c *offerCache) get(token string, now time.Time) (Offer, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[token]
	if ok && now.Before(e.until) {
		return e.offer, c.gen, true
	}
	return Offer{}, c.gen, false
}

func (c *offerCache) put(token string, o Offer, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // something changed while we read
	}
	if len(c.entries) > 100_000 {
		c.entries = map[string]cachedOffer{}
	}
	c.entries[token] = cachedOffer{offer: o, until: now.Add(offerTTL)}
}

func (c *offerCache) clear() {
	c.mu.Lock()
	c.gen++
	c.entries = map[string]cachedOffer{}
	c.mu.Unlock()
}

// offersChanged tells every instance, on commit of tx, that offers changed.
// OffersChanged tells every instance, on commit of tx, that offers changed.
func OffersChanged(tx *gorm.DB) error { return offersChanged(tx) }

// ForgetOffers clears this instance's offer cache at once (others clear
// when the notification of the committed change reaches them).
func (s *Service) ForgetOffers() { s.offers.clear() }

func offersChanged(tx *gorm.DB) error {
	return tx.Exec("SELECT pg_notify(?, '')", offerChannel).Error
}

// ListenForChanges clears the offer cache whenever any instance changes
// the catalog. It returns when ctx ends.
func (s *Service) ListenForChanges(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	for ctx.Err() == nil {
		err := s.listen(ctx, pool)
		if ctx.Err() != nil {
			return
		}
		log.Warn("catalog change listener reconnecting", "error", err)
		s.offers.clear()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Service) listen(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+offerChannel); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+offerChannel) //nolint:errcheck
	s.offers.clear()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		s.offers.clear()
	}
}
