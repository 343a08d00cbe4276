// Command acronis-sim serves the in-memory Acronis Account Management API v2
// simulator (internal/acronis/sim) over HTTP.
//
// State is in memory unless -state FILE is given: then it is loaded from FILE
// when that exists and saved to it (atomically) after every change. Access
// tokens are not persisted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acronis-platform/platform/internal/acronis/sim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("acronis-sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	clientID := fs.String("client-id", sim.DefaultClientID, "API client id (client_credentials)")
	clientSecret := fs.String("client-secret", sim.DefaultClientSecret, "API client secret")
	adminLogin := fs.String("admin-login", sim.DefaultAdminLogin, "SP admin login (Basic auth, password grant)")
	adminPassword := fs.String("admin-password", sim.DefaultAdminPassword, "SP admin password")
	seed := fs.Int64("seed", 1, "seed for ids, fault dice and the usage generator")
	stateFile := fs.String("state", "", "persist the simulator state as JSON in this file (loaded if it exists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	s, err := sim.Open(sim.Options{ClientID: *clientID, ClientSecret: *clientSecret, AdminLogin: *adminLogin,
		AdminPassword: *adminPassword, Seed: *seed, BaseURL: base, StateFile: *stateFile})
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}

	fmt.Printf("base_url=%s\n", base)
	fmt.Printf("api_url=%s/api/2\n", base)
	fmt.Printf("sp_tenant_id=%s\n", s.SPTenantID())
	fmt.Printf("client_id=%s\n", *clientID)
	fmt.Printf("client_secret=%s\n", *clientSecret)
	fmt.Printf("admin_login=%s\n", *adminLogin)
	fmt.Printf("admin_password=%s\n", *adminPassword)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
