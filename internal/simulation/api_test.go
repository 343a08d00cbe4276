package simulation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

func ptr[T any](v T) *T { return &v }

func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if v, ok := h.(interface{ SetBaseURL(string) }); ok {
		v.SetBaseURL(srv.URL)
	}
	return srv.URL
}

// actor is a user with a client that always sends its latest token (the
// sandbox clock ages tokens, so actors log in again every day).
type actor struct {
	email, password string
	token           string
	c               *oapi.ClientWithResponses
}

func (s *sim) newActor(email, password string) *actor {
	a := &actor{email: email, password: password}
	c, err := oapi.NewClientWithResponses(s.env.Server.URL, oapi.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+a.token)
		// A request id of our own: the platform would make one from the
		// process's UUID source, which a replay keeps for the shop's ids.
		r.Header.Set("X-Request-Id", "simulation")
		return nil
	}))
	require.NoError(s.t, err)
	a.c = c
	s.login(a)
	return a
}

func (s *sim) login(a *actor) {
	res, err := a.c.CreateTokenWithResponse(s.ctx, oapi.CreateTokenJSONRequestBody{Email: openapi_types.Email(a.email), Password: &a.password})
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, res.StatusCode(), string(res.Body))
	a.token = res.JSON200.AccessToken
}

type response interface{ StatusCode() int }

// body is the raw body of a generated response.
func body(res response) []byte {
	v := reflect.ValueOf(res)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if f := v.FieldByName("Body"); f.IsValid() {
		return f.Bytes()
	}
	return nil
}

func problemCode(b []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(b, &p)
	return p.Code
}

// ok judges an API answer: 2xx true; 4xx a refusal, counted; a 5xx breaks
// no_5xx unless it is a 502/503 while vendor faults are on.
func (s *sim) ok(what string, res response, err error) bool {
	if mutates(what) {
		defer s.quiesce()
	}
	if err != nil {
		s.note("%s transport", what)
		s.fail("no_5xx", what+"/transport/"+uuid.NewString(), "%s: %v", what, err)
		return false
	}
	code := res.StatusCode()
	key := fmt.Sprintf("%s:%d", what, code)
	if code >= 400 {
		key += ":" + problemCode(body(res))
	}
	s.answers[key]++
	if mutates(what) {
		s.note("%s", key)
	}
	require.NotEqual(s.t, http.StatusUnauthorized, code, "the harness lost its login: %s", what)
	switch {
	case code < 300:
		return true
	case code < 500, (code == http.StatusBadGateway || code == http.StatusServiceUnavailable) && s.spell != nil:
		return false
	}
	s.fail("no_5xx", what+"/"+uuid.NewString(), "%s answered %d: %s", what, code, body(res))
	return false
}

// must is ok for the shop's setup, which has to succeed.
func (s *sim) must(what string, res response, err error) {
	s.t.Helper()
	require.NoError(s.t, err, what)
	require.Less(s.t, res.StatusCode(), 300, "%s: %s", what, body(res))
}

// all reads every page of a list.
func all[T any](s *sim, what string, page func(cursor *string) (response, []T, *string, error)) []T {
	var out []T
	var cursor *string
	for {
		res, data, next, err := page(cursor)
		if !s.ok(what, res, err) {
			return out
		}
		out = append(out, data...)
		if next == nil || *next == "" {
			return out
		}
		cursor = next
	}
}

const pageSize = 200

func (s *sim) services() []oapi.Service {
	return all(s, "list_services", func(c *string) (response, []oapi.Service, *string, error) {
		r, err := s.admin.c.ListServicesWithResponse(s.ctx, &oapi.ListServicesParams{Limit: ptr(pageSize), Cursor: c})
		if err != nil || r.JSON200 == nil {
			return r, nil, nil, err
		}
		return r, r.JSON200.Data, r.JSON200.NextCursor, nil
	})
}

func (s *sim) invoices(p oapi.ListInvoicesParams) []oapi.Invoice {
	return all(s, "list_invoices", func(c *string) (response, []oapi.Invoice, *string, error) {
		p.Limit, p.Cursor = ptr(pageSize), c
		r, err := s.admin.c.ListInvoicesWithResponse(s.ctx, &p)
		if err != nil || r.JSON200 == nil {
			return r, nil, nil, err
		}
		return r, r.JSON200.Data, r.JSON200.NextCursor, nil
	})
}

func (s *sim) orders(status oapi.OrderStatus) []oapi.Order {
	return all(s, "list_orders", func(c *string) (response, []oapi.Order, *string, error) {
		r, err := s.admin.c.ListOrdersWithResponse(s.ctx, &oapi.ListOrdersParams{Limit: ptr(pageSize), Cursor: c, Status: &status})
		if err != nil || r.JSON200 == nil {
			return r, nil, nil, err
		}
		return r, r.JSON200.Data, r.JSON200.NextCursor, nil
	})
}

func (s *sim) runs() []oapi.BillingRun {
	return all(s, "list_billing_runs", func(c *string) (response, []oapi.BillingRun, *string, error) {
		r, err := s.admin.c.ListBillingRunsWithResponse(s.ctx, &oapi.ListBillingRunsParams{Limit: ptr(pageSize), Cursor: c})
		if err != nil || r.JSON200 == nil {
			return r, nil, nil, err
		}
		return r, r.JSON200.Data, r.JSON200.NextCursor, nil
	})
}

// invoice is an invoice with its lines, taxes and payments, read again
// only when its version moved.
func (s *sim) invoice(inv oapi.Invoice) (oapi.Invoice, bool) {
	if got, ok := s.checked[inv.Id]; ok && got.Version == inv.Version {
		return got, true
	}
	r, err := s.admin.c.GetInvoiceWithResponse(s.ctx, inv.Id)
	if !s.ok("get_invoice", r, err) {
		return inv, false
	}
	s.checked[inv.Id] = *r.JSON200
	return *r.JSON200, true
}

func (s *sim) pay(who *actor, inv oapi.Invoice, amount string) bool {
	r, err := who.c.CreateInvoicePaymentWithResponse(s.ctx, inv.Id, &oapi.CreateInvoicePaymentParams{IdempotencyKey: uuid.NewString()},
		oapi.PaymentCreate{Amount: oapi.Money{Amount: amount, Currency: "USD"}, Method: oapi.BankTransfer, Reference: ptr("sim")})
	return s.ok("pay", r, err)
}

// simControl calls the simulator's control API and says whether it took the call.
func (s *sim) simControl(method, path string, in any) bool {
	var b []byte
	if in != nil {
		b, _ = json.Marshal(in)
	}
	req, err := http.NewRequestWithContext(s.ctx, method, s.vurl+"/_sim"+path, bytes.NewReader(b))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	_ = res.Body.Close()
	return res.StatusCode < 300
}

// waitFor polls cond until it holds or the wall-clock budget is spent.
func waitFor(budget time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(budget)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
