// Package mailtest runs a private Mailpit (github.com/axllent/mailpit) on
// free loopback ports for tests, and reads what it caught through its HTTP
// API (/api/v1/messages, /api/v1/search, /api/v1/message/{ID}).
//
// Recipients are accepted when their address contains "example" (the
// fixtures' domains: example.com, partner.example ...); any other, e.g.
// someone@refused.test, is refused at RCPT with 550, for tests of refused
// recipients.
package mailtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Mailpit installed when none is found.
const Version = "v1.33.1"

// AllowedRecipients is the recipients regexp of every Mailpit started here.
const AllowedRecipients = "example"

// Server is a running Mailpit.
type Server struct {
	SMTPAddr string // host:port of its SMTP server
	HTTPURL  string // base URL of its web inbox and API
	bin      string
	mu       sync.Mutex
	proc     *os.Process
	done     chan struct{}
}

// Binary finds Mailpit: MAILPIT_BIN, the cache bin dir
// ($XDG_CACHE_HOME or ~/.cache, /acronis-platform/bin), PATH; when none is
// there it installs it into the cache bin dir with go install, as
// scripts/mailpit.sh does.
func Binary() (string, error) {
	if b := os.Getenv("MAILPIT_BIN"); b != "" {
		return b, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "acronis-platform", "bin")
	b := filepath.Join(dir, "mailpit")
	if _, err := os.Stat(b); err == nil {
		return b, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install mailpit: %w: %s", err, out)
	}
	return b, nil
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared is the test binary's Mailpit, started on first use; it dies with
// the test process. Tests sharing it tell their mails apart by recipient
// or Message-ID.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = Start() })
	if shared.err != nil {
		t.Fatalf("mailtest: %v", shared.err)
	}
	return shared.srv
}

// New starts a Mailpit of the test's own, stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start runs a Mailpit on two free loopback ports.
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{SMTPAddr: fmt.Sprintf("127.0.0.1:%d", smtpPort), HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), bin: bin}
	return s, s.start()
}

// SMTPURL is the SMTP_URL of this Mailpit (no TLS, no credentials).
func (s *Server) SMTPURL() string { return "smtp://" + s.SMTPAddr + "?starttls=none" }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := make(chan error, 1)
	done := make(chan struct{})
	// Pdeathsig fires when the thread that started the child ends: this
	// goroutine keeps its thread until Mailpit exits, so Mailpit lives as
	// long as the test process and no longer.
	go func() {
		runtime.LockOSThread()
		cmd := exec.Command(s.bin, "--disable-version-check", "--quiet", "--smtp-disable-rdns",
			"--listen", "127.0.0.1:"+port(s.HTTPURL), "--smtp", s.SMTPAddr, "--max", "0",
			"--smtp-allowed-recipients", AllowedRecipients)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			started <- err
			runtime.UnlockOSThread()
			close(done)
			return
		}
		s.proc = cmd.Process
		started <- nil
		_ = cmd.Wait()
		runtime.UnlockOSThread()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start mailpit: %w", err)
	}
	s.done = done
	return s.waitReady()
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("mailpit exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second); err == nil {
			_ = c.Close()
			if res, err := http.Get(s.HTTPURL + "/api/v1/info"); err == nil {
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("mailpit did not start within 30s")
}

// Stop ends Mailpit (its SMTP port then refuses connections).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.done
	s.proc = nil
}

// Restart starts a stopped Mailpit again on the same ports (its inbox
// starts empty).
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Address is a mail address as Mailpit reports it.
type Address struct{ Name, Address string }

// Summary is a caught message as listed.
type Summary struct {
	ID          string
	MessageID   string
	From        Address
	To          []Address
	ReplyTo     []Address
	Subject     string
	Attachments int
}

// Message is a caught message read on its own.
type Message struct {
	ID          string
	MessageID   string
	From        Address
	To          []Address
	ReplyTo     []Address
	Subject     string
	Text        string
	Attachments []struct {
		PartID, FileName, ContentType string
		Size                          int
	}
}

type list struct {
	Total         int `json:"total"`
	MessagesCount int `json:"messages_count"`
	Messages      []Summary
}

// Search lists the messages matching a Mailpit search query (to:addr,
// message-id:id, subject:words ...), newest first.
func (s *Server) Search(t testing.TB, query string) []Summary {
	t.Helper()
	var l list
	s.get(t, "/api/v1/search?limit=1000&query="+url.QueryEscape(query), &l)
	return l.Messages
}

// All lists up to limit messages, newest first, and the total caught.
func (s *Server) All(t testing.TB, limit int) ([]Summary, int) {
	t.Helper()
	var l list
	s.get(t, fmt.Sprintf("/api/v1/messages?limit=%d", limit), &l)
	return l.Messages, l.Total
}

// Message reads one message.
func (s *Server) Message(t testing.TB, id string) Message {
	t.Helper()
	var m Message
	s.get(t, "/api/v1/message/"+url.PathEscape(id), &m)
	return m
}

// Part downloads a part (an attachment) of a message.
func (s *Server) Part(t testing.TB, id, part string) []byte {
	t.Helper()
	res, err := http.Get(s.HTTPURL + "/api/v1/message/" + url.PathEscape(id) + "/part/" + url.PathEscape(part))
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	return b
}

// Wait polls a search until it finds at least n messages (or 60s pass,
// failing the test), and returns them.
func (s *Server) Wait(t testing.TB, query string, n int) []Summary {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := s.Search(t, query)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: %d of %d messages for %q after 60s", len(got), n, query)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) get(t testing.TB, path string, into any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailtest: GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("mailtest: GET %s: %s", path, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		t.Fatalf("mailtest: GET %s: %v", path, err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func port(u string) string {
	p, _ := url.Parse(u)
	return p.Port()
}
