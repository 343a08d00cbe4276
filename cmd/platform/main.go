// Command platform runs the automation platform: serve, migrate, seed, version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/acronis-platform/platform/internal/app"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/postgres"
)

const usage = `platform: sell, provision and bill Acronis Cyber Protect Cloud.

Usage: platform <command> [--help]

Commands:
  serve     serve the HTTP API and run background jobs
  migrate   apply database migrations (the platform's and River's)
  seed      create the admin from SEED_ADMIN_EMAIL / SEED_ADMIN_PASSWORD (and the demo, SEED_DEMO)
  version   print the build version

Configuration comes from environment variables only; see README.md.
`

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "platform:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	commands := map[string]struct {
		help string
		run  func(context.Context, io.Writer) error
	}{
		"serve":   {"Serve the API on LISTEN_ADDR and run background jobs until SIGINT/SIGTERM.", serve},
		"migrate": {"Apply every pending migration to DATABASE_URL.", migrate},
		"seed":    {"Create (or reset the password of) the admin SEED_ADMIN_EMAIL; with SEED_DEMO=true also the demo catalog\n(found again by fixed ids on later runs; a demo that cannot be made is logged as a warning).", seed},
		"version": {"Print the build version.", version},
	}
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	c, ok := commands[cmd]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: platform %s\n\n%s\nConfiguration: environment variables (README.md).\n", cmd, c.help)
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments", cmd)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx, stdout)
}

func serve(ctx context.Context, _ io.Writer) error {
	cfg, err := config.Load(os.Getenv, true)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg)
	var clk clock.Clock = clock.Real{}
	if cfg.Sandbox {
		clk = &clock.Offset{} // POST /v1/sandbox/clock moves it
	}
	a, err := app.New(ctx, cfg, log, clk)
	if err != nil {
		return err
	}
	defer a.Close()
	current, err := postgres.MigrationsCurrent(ctx, a.DB)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if !current {
		return errors.New("the database has pending migrations: run `platform migrate` first")
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	var mln net.Listener
	if cfg.MetricsAddr != "off" {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
	}
	return a.Run(ctx, ln, mln)
}

func migrate(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.Load(os.Getenv, false)
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 4, clock.Real{}, app.NewLogger(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func seed(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.Load(os.Getenv, true)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg), clock.Real{})
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Seed(ctx, stdout)
}

// buildVersion is set at link time (-X main.buildVersion=...).
var buildVersion string

func version(_ context.Context, stdout io.Writer) error {
	v := buildVersion
	if v == "" {
		v = "dev"
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" && buildVersion == "" {
		v = bi.Main.Version
	}
	fmt.Fprintln(stdout, "platform", v)
	return nil
}
