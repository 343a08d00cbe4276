package sim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Optional persistence (Options.StateFile): the simulator's data (tenants,
// users, usage overrides, reports, the clock offset and the seeded ids) is
// saved as JSON after every successful mutating /api/2 call and every /_sim/
// change, and loaded by New/Open. Tokens, one-time tokens, faults and the call
// log are not persisted.

// stateFormat 2 keeps usage overrides as a history per item; format 1
// (a plain value per item, in force from the beginning) is still read.
const stateFormat = 2

type persistedState struct {
	Format     int                        `json:"format"`
	SavedAt    time.Time                  `json:"saved_at"`
	Offset     time.Duration              `json:"clock_offset"`
	RootID     string                     `json:"root_id"`
	SPID       string                     `json:"sp_id"`
	AdminID    string                     `json:"admin_id"`
	InfraID    string                     `json:"infra_id"`
	LocationID string                     `json:"location_id"`
	Seq        int                        `json:"seq"`
	Tenants    []*tenant                  `json:"tenants"`
	Users      []*user                    `json:"users"`
	Usage      map[string]json.RawMessage `json:"usage"`
	Reports    []*report                  `json:"reports"`
	Clients    []*apiClient               `json:"clients,omitempty"`
}

// Open returns a simulator like New. When opts.StateFile names an existing,
// non-empty file, the state is loaded from it; a file that cannot be read or
// parsed is an error.
func Open(opts Options) (*Server, error) {
	s := newServer(opts)
	if s.opts.StateFile == "" {
		return s, nil
	}
	raw, err := os.ReadFile(s.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(bytes.TrimSpace(raw)) == 0) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sim: reading state: %w", err)
	}
	if err := s.load(raw); err != nil {
		return nil, fmt.Errorf("sim: loading state from %s: %w", s.opts.StateFile, err)
	}
	return s, nil
}

// load replaces the state with a persisted one. Only called before the server
// is shared.
func (s *Server) load(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // contact values keep their JSON form
	var ps persistedState
	if err := dec.Decode(&ps); err != nil {
		return err
	}
	if ps.Format != stateFormat && ps.Format != 1 {
		return fmt.Errorf("unsupported state format %d", ps.Format)
	}
	if ps.RootID == "" || ps.SPID == "" || ps.AdminID == "" {
		return errors.New("seeded ids missing")
	}
	st := &state{tenants: map[string]*tenant{}, users: map[string]*user{}, usage: map[string][]usageOverride{},
		reports: map[string]*report{}, clients: map[string]*apiClient{}, seq: ps.Seq}
	for _, t := range ps.Tenants {
		if t == nil || t.ID == "" {
			return errors.New("tenant without id")
		}
		if t.Contact == nil {
			t.Contact = newTenantContact()
		}
		if t.Apps == nil {
			t.Apps = map[string]bool{}
		}
		st.add(t)
	}
	for _, u := range ps.Users {
		if u == nil || u.ID == "" {
			return errors.New("user without id")
		}
		if u.Contact == nil {
			u.Contact = newUserContact()
		}
		st.users[u.ID] = u
	}
	usage, err := decodeUsage(ps.Usage)
	if err != nil {
		return err
	}
	st.usage = usage
	for _, rp := range ps.Reports {
		if rp == nil || rp.ID == "" {
			return errors.New("report without id")
		}
		st.reports[rp.ID] = rp
	}
	for _, c := range ps.Clients {
		if c == nil || c.ID == "" {
			return errors.New("API client without id")
		}
		st.clients[c.ID] = c
	}
	if st.tenants[ps.RootID] == nil || st.tenants[ps.SPID] == nil {
		return errors.New("the seeded root or service-provider tenant is missing")
	}
	s.rootID, s.spID, s.adminID, s.infraID, s.locationID = ps.RootID, ps.SPID, ps.AdminID, ps.InfraID, ps.LocationID
	s.offset = max(ps.Offset, 0)
	s.st = st
	return nil
}

// snapshot encodes the state. Caller holds s.mu.
func (s *Server) snapshot() ([]byte, error) {
	ps := persistedState{Format: stateFormat, SavedAt: s.now().UTC(), Offset: s.offset, RootID: s.rootID, SPID: s.spID,
		AdminID: s.adminID, InfraID: s.infraID, LocationID: s.locationID, Seq: s.st.seq,
		Tenants: []*tenant{}, Users: []*user{}, Reports: []*report{}}
	ps.Usage = map[string]json.RawMessage{}
	for k, v := range encodeUsage(s.st.usage) {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		ps.Usage[k] = raw
	}
	for _, t := range s.st.tenants {
		ps.Tenants = append(ps.Tenants, t)
	}
	sortTenants(ps.Tenants)
	ps.Users = append(ps.Users, s.sortedUsers()...)
	for _, rp := range s.st.reports {
		ps.Reports = append(ps.Reports, rp)
	}
	slices.SortFunc(ps.Reports, func(a, b *report) int { return a.Seq - b.Seq })
	for _, c := range s.st.clients {
		ps.Clients = append(ps.Clients, c)
	}
	slices.SortFunc(ps.Clients, func(a, b *apiClient) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return json.Marshal(ps)
}

// Save writes the state to Options.StateFile atomically (temporary file in the
// same directory, then rename). It is a no-op without a StateFile.
func (s *Server) Save() error {
	if s.opts.StateFile == "" {
		return nil
	}
	s.saveMu.Lock() // snapshots are renamed in the order they are taken
	defer s.saveMu.Unlock()
	s.mu.Lock()
	raw, err := s.snapshot()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sim: encoding state: %w", err)
	}
	return writeAtomic(s.opts.StateFile, raw)
}

// persist saves the state when persistence is on, logging a failure (the
// call that changed the state has already succeeded).
func (s *Server) persist() {
	if err := s.Save(); err != nil {
		log.Printf("acronis sim: saving state: %v", err)
	}
}

func writeAtomic(path string, raw []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("sim: saving state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("sim: saving state: %w", err)
	}
	return nil
}
