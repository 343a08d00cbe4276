package acronis

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/acronis-platform/platform/internal/egress"
)

// renewBefore is how long before expiry a token is replaced, as the
// vendor's own examples do (15 minutes of a 2-hour token).
const renewBefore = 15 * time.Minute

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	ExpiresOn   int64  `json:"expires_on"`
}

// accessToken returns a cached token, issuing one when none is valid or
// when force is set (after a 401).
func (c *Client) accessToken(ctx context.Context, force bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	if !force && c.token != "" && now.Before(c.expiresAt) {
		return c.token, nil
	}
	var last error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, attempt); err != nil {
				return "", last
			}
		}
		tr, err := c.issueToken(ctx)
		if err == nil {
			c.token = tr.AccessToken
			c.expiresAt = tokenExpiry(tr, now)
			return c.token, nil
		}
		last = err
		if e, ok := err.(*Error); !ok || !e.Retryable || ctx.Err() != nil {
			return "", err
		}
	}
	return "", last
}

// tokenExpiry prefers expires_on (absolute), then expires_in, and renews
// early; a token of unknown life is renewed after ten minutes.
func tokenExpiry(tr tokenResponse, now time.Time) time.Time {
	var exp time.Time
	switch {
	case tr.ExpiresOn > 0:
		exp = time.Unix(tr.ExpiresOn, 0)
	case tr.ExpiresIn > 0:
		exp = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	default:
		return now.Add(10 * time.Minute)
	}
	life := exp.Sub(now)
	early := min(renewBefore, life/4)
	return exp.Add(-early)
}

func (c *Client) issueToken(ctx context.Context) (tokenResponse, error) {
	const op = "POST /idp/token"
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	u := *c.base
	u.Path += "/api/2/idp/token"
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResponse{}, &Error{Op: op, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	res, err := c.hc.Do(req)
	if err != nil {
		return tokenResponse{}, &Error{Op: op, Err: transportErr(err), Retryable: ctx.Err() == nil && !egress.Refused(err)}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return tokenResponse{}, &Error{Op: op, Status: res.StatusCode, Err: transportErr(err), Retryable: ctx.Err() == nil}
	}
	if res.StatusCode != http.StatusOK {
		e := &Error{Op: op, Status: res.StatusCode, Retryable: res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests}
		var oauth struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &oauth) == nil && oauth.Error != "" {
			e.Message = oauth.Error
			if oauth.Description != "" {
				e.Message += ": " + oauth.Description
			}
		} else {
			e.Message = responseError(op, res.StatusCode, raw).Message
		}
		return tokenResponse{}, e
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil || tr.AccessToken == "" {
		return tokenResponse{}, &Error{Op: op, Status: res.StatusCode, Message: "token response without access_token"}
	}
	return tr, nil
}

// APIClientInfo is what GET /clients/{id} tells about our API client.
type APIClientInfo struct {
	ClientID string `json:"client_id"`
	TenantID string `json:"tenant_id"`
	Type     string `json:"type"`
	Status   string `json:"status"`
}

// WhoAmI returns our API client's record, whose tenant is the SP tenant.
func (c *Client) WhoAmI(ctx context.Context) (APIClientInfo, error) {
	var out APIClientInfo
	err := c.do(ctx, call{method: http.MethodGet, path: "/clients/" + url.PathEscape(c.cfg.ClientID), out: &out, retry: true})
	return out, err
}
