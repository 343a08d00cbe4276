package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// problem is the body of every error response.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// raw sends a request the generated client cannot produce (bad JSON,
// unknown fields, wrong types) and returns status, headers and body.
func raw(t *testing.T, method, url, token, contentType, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewBufferString(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, b
}

// requireProblem checks a problem+json answer and returns it.
func requireProblem(t *testing.T, status int, header http.Header, body []byte, wantStatus int, wantCode string) problem {
	t.Helper()
	require.Equal(t, wantStatus, status, string(body))
	require.Equal(t, "application/problem+json", header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	require.Equal(t, wantStatus, p.Status)
	require.Equal(t, wantCode, p.Code, string(body))
	require.NotEmpty(t, p.Title)
	return p
}
