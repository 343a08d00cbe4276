// Package pgtest gives each test package its own PostgreSQL database, cloned
// from a template that is migrated once per set of migrations.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acronis-platform/platform/db/migrations"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/postgres"
)

var packageURL, adminURL string

// Main runs a test package against a fresh database and drops it afterwards.
// Use it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	adminURL, err = serverURL()
	if err == nil {
		packageURL, err = cloneDatabase(ctx, adminURL)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := dropDatabase(context.Background(), adminURL, packageURL); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: drop:", err)
	}
	os.Exit(code)
}

// URL is the test package's database.
func URL(t testing.TB) string {
	t.Helper()
	if packageURL == "" {
		t.Fatal("pgtest: call pgtest.Main from TestMain")
	}
	return packageURL
}

// Open connects to the test package's database and closes it when t ends.
func Open(t testing.TB, clk clock.Clock) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), URL(t), 20, clk, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// NewDatabase makes another database for one test: a copy of the migrated
// template, or empty when migrated is false. It is dropped when t ends.
func NewDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	ctx := context.Background()
	conn := adminConn(t)
	defer conn.Close(ctx)
	name := "platform_test_" + randomHex()
	stmt := "CREATE DATABASE " + name
	if migrated {
		stmt += " TEMPLATE " + templateName()
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	u := withDB(adminURL, name)
	t.Cleanup(func() { _ = dropDatabase(context.Background(), adminURL, u) })
	return u
}

// Exec runs a statement as the server's superuser, on the postgres database.
func Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn := adminConn(t)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

func adminConn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), withDB(adminURL, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// DatabaseName is the name in a database URL.
func DatabaseName(dbURL string) string {
	p, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(p.Path, "/")
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serverURL is DATABASE_URL, or the private cluster of scripts/pg.sh.
func serverURL() (string, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "pg.sh")
	start := exec.Command(script, "start")
	start.Env = append(os.Environ(), "PG_FAST=1")
	if out, err := start.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/pg.sh start: %v\n%s", err, out)
	}
	out, err := exec.Command(script, "url").Output()
	if err != nil {
		return "", fmt.Errorf("scripts/pg.sh url: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the test")
		}
		dir = parent
	}
}

func withDB(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + name
	return p.String()
}

// templateName changes whenever a migration does.
func templateName() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return "platform_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
}

func cloneDatabase(ctx context.Context, adminURL string) (string, error) {
	conn, err := pgx.Connect(ctx, withDB(adminURL, "postgres"))
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	tmpl := templateName()
	// Test packages run in parallel; one builds the template, the others wait.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", tmpl); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtext($1))", tmpl) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		building := tmpl + "_building"
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
			return "", err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
			return "", err
		}
		db, err := postgres.Open(ctx, withDB(adminURL, building), 4, clock.Real{}, slog.New(slog.DiscardHandler))
		if err != nil {
			return "", err
		}
		err = postgres.Migrate(ctx, db)
		db.Close()
		if err != nil {
			return "", err
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+tmpl); err != nil {
			return "", err
		}
	}
	name := "platform_test_" + randomHex()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl); err != nil {
		return "", fmt.Errorf("clone template: %w", err)
	}
	return withDB(adminURL, name), nil
}

func dropDatabase(ctx context.Context, adminURL, dbURL string) error {
	p, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, withDB(adminURL, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+strings.TrimPrefix(p.Path, "/")+" WITH (FORCE)")
	return err
}
