package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Usage overrides keep history: an override set through /_sim/usage (or
// SetUsageFrom) applies from a day on, and the days before it keep what
// they had, the generator's figure or an earlier override's. Setting one
// from a day replaces every override from that day on, so a past "from"
// revises the days from it on; the vendor's daily reports then show each
// day's own value.

// usageOverride is one value in force from a UTC day on (the zero day:
// from the beginning).
type usageOverride struct {
	From  time.Time
	Value int64
}

// usageOverrideJSON is an override in the state file; From is empty for
// one in force from the beginning.
type usageOverrideJSON struct {
	From  string `json:"from,omitempty"`
	Value int64  `json:"value"`
}

// overrideAt returns the value in force on day, if any override is.
func overrideAt(hist []usageOverride, day time.Time) (int64, bool) {
	day = dayOf(day)
	for i := len(hist) - 1; i >= 0; i-- {
		if !hist[i].From.After(day) {
			return hist[i].Value, true
		}
	}
	return 0, false
}

// withOverride returns hist with value in force from day on: later
// overrides are dropped, earlier ones kept. hist is in day order.
func withOverride(hist []usageOverride, from time.Time, value int64) []usageOverride {
	out := slices.DeleteFunc(slices.Clone(hist), func(o usageOverride) bool { return !o.From.Before(from) })
	return append(out, usageOverride{From: from, Value: value})
}

// SetUsage overrides the usage value of one offering item of a tenant from
// the simulator's current day on; the days before keep theirs.
func (s *Server) SetUsage(tenantID, name string, value int64) error {
	return s.SetUsageFrom(tenantID, name, time.Time{}, value)
}

// SetUsageFrom overrides the usage value of one offering item of a tenant
// from the UTC day of from on (the current day when from is zero); the
// days before keep theirs. A day after the simulator's current day is an
// error.
func (s *Server) SetUsageFrom(tenantID, name string, from time.Time, value int64) error {
	if err := s.setUsage(tenantID, name, from, value); err != nil {
		return err
	}
	s.persist()
	return nil
}

// errUsageFuture is a "from" day after the simulator's current day.
type errUsageFuture struct{ from, today time.Time }

func (e errUsageFuture) Error() string {
	return fmt.Sprintf("'from' %s is after the simulator's current day %s", e.from.Format(time.DateOnly), e.today.Format(time.DateOnly))
}

func (s *Server) setUsage(tenantID, name string, from time.Time, value int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	today := dayOf(s.now())
	if from.IsZero() {
		from = today
	}
	from = dayOf(from)
	if from.After(today) {
		return errUsageFuture{from, today}
	}
	t := s.st.tenants[tenantID]
	if !t.live() {
		return fmt.Errorf("tenant %q not found", tenantID)
	}
	if t.oi(name) == nil {
		return fmt.Errorf("offering item %q not found on tenant %q", name, tenantID)
	}
	k := tenantID + "/" + name
	s.st.usage[k] = withOverride(s.st.usage[k], from, value)
	return nil
}

// encodeUsage is the state file's form of the overrides.
func encodeUsage(usage map[string][]usageOverride) map[string][]usageOverrideJSON {
	out := make(map[string][]usageOverrideJSON, len(usage))
	for k, hist := range usage {
		js := make([]usageOverrideJSON, len(hist))
		for i, o := range hist {
			js[i].Value = o.Value
			if !o.From.IsZero() {
				js[i].From = o.From.Format(time.DateOnly)
			}
		}
		out[k] = js
	}
	return out
}

// decodeUsage reads the overrides of a state file: a list of overrides per
// key, or (the first format) a plain value, in force from the beginning.
func decodeUsage(raw map[string]json.RawMessage) (map[string][]usageOverride, error) {
	out := make(map[string][]usageOverride, len(raw))
	for k, v := range raw {
		var plain int64
		if err := json.Unmarshal(v, &plain); err == nil {
			out[k] = []usageOverride{{Value: plain}}
			continue
		}
		var js []usageOverrideJSON
		if err := json.Unmarshal(v, &js); err != nil {
			return nil, fmt.Errorf("usage override %q: %w", k, err)
		}
		var hist []usageOverride
		for _, o := range js {
			var from time.Time
			if o.From != "" {
				d, err := time.Parse(time.DateOnly, o.From)
				if err != nil {
					return nil, fmt.Errorf("usage override %q: 'from' %q is not a date", k, o.From)
				}
				from = d
			}
			hist = withOverride(hist, from, o.Value)
		}
		out[k] = hist
	}
	return out, nil
}

// UsageOn is the figure the daily report gives a live tenant's item on a
// UTC day (0 before the tenant existed); false when there is no such
// tenant or item.
func (s *Server) UsageOn(tenantID, name string, day time.Time) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.st.tenants[tenantID]
	if !t.live() {
		return 0, false
	}
	o := t.oi(name)
	if o == nil {
		return 0, false
	}
	return s.dayUsage(t, o, day), true
}
