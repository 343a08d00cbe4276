// Package acronis is a typed client of the Acronis Account Management API v2:
// tokens, tenants, offering items, users, SSO and look-ups. Calls retry what
// is safe to retry and never repeat a create blindly.
package acronis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/egress"
)

// Config says where the datacenter is and who we are there.
type Config struct {
	// BaseURL is the datacenter URL, e.g. https://eu2-cloud.acronis.com.
	BaseURL      string
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client
	Clock        clock.Clock
	// MaxAttempts bounds tries of one call (default 5).
	MaxAttempts int
	// AttemptTimeout bounds one try, so a hung connection is retried
	// within the caller's deadline (default 20s).
	AttemptTimeout time.Duration
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter (defaults 200ms and 3s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// Client talks to one datacenter as one API client. Safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	clk  clock.Clock

	mu        sync.Mutex
	token     string
	expiresAt time.Time
}

// New checks the configuration and returns a client; it makes no call.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("acronis: base URL must be an http(s) URL")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("acronis: client id and secret are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.HTTPClient.CheckRedirect == nil {
		// The datacenter never sends us elsewhere; a redirect to another
		// host (with our bearer token) is answered as the redirect itself.
		hc := *cfg.HTTPClient
		hc.CheckRedirect = egress.SameOrigin
		cfg.HTTPClient = &hc
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 20 * time.Second
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 3 * time.Second
	}
	return &Client{cfg: cfg, base: u, hc: cfg.HTTPClient, clk: cfg.Clock}, nil
}

// BaseURL is the datacenter URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is a failed vendor call. It never carries credentials or tokens.
type Error struct {
	Op        string // e.g. "POST /tenants"
	Status    int    // HTTP status; 0 when no response arrived
	Code      int    // platform code (1001, 1006, 1021, ...) or 0
	Message   string
	Retryable bool
	Err       error // the transport error, when no response arrived
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("acronis: " + e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Platform error codes the platform reacts to.
const (
	CodeVersionMismatch     = 1001
	CodeTenantNameConflict  = 1004
	CodeDeleteEnabledTenant = 1006
	CodeTenantLocked        = 1012
	CodeOfferingItemMissing = 1021
	CodeHardQuotaExceeded   = 1022
	CodeOfferingItemDepends = 1023
	CodeInvalidLogin        = 1033
)

// IsStatus reports whether err is a vendor error with that HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// IsCode reports whether err carries that platform code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// call is one request: what to send and what counts as success.
type call struct {
	method string
	path   string // below /api/2, e.g. "/tenants"
	query  url.Values
	body   any
	out    any
	raw    *[]byte // receives the body as it came, for files
	// stream, when set, reads a successful response's body as it arrives
	// (files of any size); the attempt timeout then bounds the wait for
	// the response, not the reading. Its error ends the call, unretried.
	stream func(io.Reader) error
	ok     []int // accepted statuses (default 200)
	// retry allows repeating the call after an ambiguous failure; false
	// for creates, which callers reconcile by looking the object up.
	retry bool
}

func (c *Client) op(k call) string { return k.method + " " + k.path }

// do runs a call with authentication, retries and backoff.
func (c *Client) do(ctx context.Context, k call) error {
	var payload []byte
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return fmt.Errorf("acronis: encode %s: %w", c.op(k), err)
		}
		payload = b
	}
	reauthed := false
	var last error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, attempt); err != nil {
				return last
			}
		}
		tok, err := c.accessToken(ctx, false)
		if err != nil {
			return err
		}
		err = c.once(ctx, k, payload, tok)
		if err == nil {
			return nil
		}
		last = err
		var ve *Error
		if !errors.As(err, &ve) {
			return err
		}
		if ve.Status == http.StatusUnauthorized && !reauthed {
			// The token expired or was revoked: renew once, transparently.
			reauthed = true
			if _, err := c.accessToken(ctx, true); err != nil {
				return err
			}
			attempt--
			continue
		}
		if !ve.Retryable || !k.retry || ctx.Err() != nil {
			return err
		}
	}
	return last
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, k call, payload []byte, token string) error {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(c.cfg.AttemptTimeout, cancel)
	defer timer.Stop()
	u := *c.base
	u.Path = u.Path + "/api/2" + k.path
	if k.query != nil {
		u.RawQuery = k.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, k.method, u.String(), body)
	if err != nil {
		return &Error{Op: c.op(k), Err: err}
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.hc.Do(req)
	if err != nil {
		return &Error{Op: c.op(k), Err: transportErr(err), Retryable: ctx.Err() == nil && !egress.Refused(err)}
	}
	defer res.Body.Close()
	ok := k.ok
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	if k.stream != nil && slices.Contains(ok, res.StatusCode) && timer.Stop() {
		return k.stream(res.Body)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return &Error{Op: c.op(k), Status: res.StatusCode, Err: transportErr(err), Retryable: ctx.Err() == nil}
	}
	for _, s := range ok {
		if res.StatusCode == s {
			if k.raw != nil {
				*k.raw = raw
				return nil
			}
			if k.out != nil && len(raw) > 0 {
				if err := json.Unmarshal(raw, k.out); err != nil {
					return &Error{Op: c.op(k), Status: res.StatusCode, Message: "undecodable response", Err: err}
				}
			}
			return nil
		}
	}
	return responseError(c.op(k), res.StatusCode, raw)
}

// transportErr keeps the kind of a network failure but drops the URL, which
// could carry query parameters.
func transportErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// responseError reads the vendor error envelope.
func responseError(op string, status int, raw []byte) *Error {
	e := &Error{Op: op, Status: status,
		Retryable: status >= 500 || status == http.StatusTooManyRequests}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && len(env.Error) > 0 {
		var body struct {
			Code    json.Number `json:"code"`
			Message string      `json:"message"`
			Details struct {
				Info string `json:"info"`
			} `json:"details"`
		}
		if json.Unmarshal(env.Error, &body) == nil {
			if n, err := body.Code.Int64(); err == nil && n >= 1000 {
				e.Code = int(n)
			}
			e.Message = body.Message
			if body.Details.Info != "" {
				e.Message = body.Details.Info
			}
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// sleep waits the backoff for the attempt: full jitter, capped.
func (c *Client) sleep(ctx context.Context, attempt int) error {
	d := c.cfg.BaseBackoff << min(attempt-1, 10)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isTimeout tells a failure after which the request may have been applied.
func isAmbiguous(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Status >= 500 || e.Status == http.StatusTooManyRequests {
		return true
	}
	var ne net.Error
	return e.Status == 0 && (errors.As(e.Err, &ne) || e.Err != nil)
}
