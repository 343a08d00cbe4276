package main

// The receive mode: a webhook receiver for the bench's order runs with an
// endpoint subscribed. It answers every POST with 204 at once, checks its
// signature with the Standard Webhooks library (an implementation
// independent of the platform's) against the endpoints' secrets, and
// counts; GET /stats returns the counts as JSON. It listens on loopback
// only and runs until SIGINT or SIGTERM.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxWebhookBody bounds what the receiver reads of one delivery.
const maxWebhookBody = 1 << 20

// receiverStats are the receiver's counts: every POST is received; a
// verified one carries a valid signature of one of the secrets.
type receiverStats struct {
	Received int64 `json:"received"`
	Verified int64 `json:"verified"`
	Invalid  int64 `json:"invalid"`
}

type receiver struct {
	hooks    []*standardwebhooks.Webhook
	received atomic.Int64
	verified atomic.Int64
}

// newReceiver takes the endpoints' signing secrets (whsec_...); none means
// nothing is verified (every delivery counts as invalid).
func newReceiver(secrets []string) (*receiver, error) {
	r := &receiver{}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", len(r.hooks)+1, err)
		}
		r.hooks = append(r.hooks, wh)
	}
	return r, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.Method == http.MethodGet && req.URL.Path == "/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.stats())
	case req.Method == http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(req.Body, maxWebhookBody))
		r.received.Add(1)
		if err == nil && r.verify(body, req.Header) {
			r.verified.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "POST a delivery or GET /stats", http.StatusMethodNotAllowed)
	}
}

func (r *receiver) verify(body []byte, h http.Header) bool {
	for _, wh := range r.hooks {
		if wh.Verify(body, h) == nil {
			return true
		}
	}
	return false
}

func (r *receiver) stats() receiverStats {
	v := r.verified.Load()
	n := r.received.Load()
	return receiverStats{Received: n, Verified: v, Invalid: n - v}
}

// runReceive is `loadgen receive`: it prints "listening on ADDR" once it
// accepts connections.
func runReceive(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:18091", "listen address (loopback only)")
	secretsFile := fs.String("secrets-file", "", "file of the endpoints' signing secrets (whsec_...), one a line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen receive: unexpected arguments: %q\n", fs.Args())
		return 2
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !isLoopbackHost(host) {
		fmt.Fprintf(stderr, "loadgen receive: -addr %q is not a loopback host:port\n", *addr)
		return 2
	}
	var secrets []string
	if *secretsFile != "" {
		data, err := os.ReadFile(*secretsFile)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen receive:", err)
			return 2
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				secrets = append(secrets, line)
			}
		}
	}
	rcv, err := newReceiver(secrets)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen receive:", err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen receive:", err)
		return 1
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "loadgen receive:", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	s := rcv.stats()
	fmt.Fprintf(stderr, "loadgen receive: received %d, verified %d, invalid %d\n", s.Received, s.Verified, s.Invalid)
	return 0
}
