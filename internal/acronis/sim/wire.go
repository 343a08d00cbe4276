package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

const (
	jsonContentType = "application/json; charset=utf-8"
	errDomain       = "PlatformAccountServer"
	maxBody         = 4 << 20
)

// writeJSON writes v as compact single-line JSON without a trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":1000,"message":"Internal error","details":{"info":"response encoding failed"},"context":{},"domain":"PlatformAccountServer"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeNoContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}

// apiError is the vendor error envelope (errorScheme). Field order follows the
// documented example.
type apiError struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Details any            `json:"details"`
	Context map[string]any `json:"context"`
	Domain  string         `json:"domain"`
}

type errorEnvelope struct {
	Error apiError `json:"error"`
}

// httpErr is an error that knows its HTTP status and vendor envelope.
type httpErr struct {
	status int
	env    apiError
}

func (e *httpErr) Error() string { return fmt.Sprintf("%d %d %s", e.status, e.env.Code, e.env.Message) }

func newErr(status, code int, message, info string) *httpErr {
	return &httpErr{status: status, env: apiError{
		Code: code, Message: message, Details: map[string]any{"info": info},
		Context: map[string]any{}, Domain: errDomain,
	}}
}

func badRequest(info string) *httpErr {
	return newErr(http.StatusBadRequest, http.StatusBadRequest, "Bad Request", info)
}

func notFound(what, id string) *httpErr {
	e := newErr(http.StatusNotFound, http.StatusNotFound, "Not Found", fmt.Sprintf("%s %q not found", what, id))
	if id != "" {
		e.env.Context["id"] = id
	}
	return e
}

func forbidden(info string) *httpErr {
	return newErr(http.StatusForbidden, 1002, "Access denied", info)
}

func versionMismatch(id string, got, have int64) *httpErr {
	e := newErr(http.StatusConflict, 1001, "Version mismatch.",
		fmt.Sprintf("Version mismatch for object %q: expected %d, got %d", id, have, got))
	e.env.Context["id"] = id
	return e
}

func writeError(w http.ResponseWriter, status, code int, message, info string) {
	writeHTTPErr(w, newErr(status, code, message, info))
}

func writeHTTPErr(w http.ResponseWriter, e *httpErr) {
	writeJSON(w, e.status, errorEnvelope{Error: e.env})
}

// oauthError writes the token endpoint error shape.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// isJSON reports whether the request declares a JSON body.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func unsupportedMedia() *httpErr {
	return newErr(http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType, "Unsupported Media Type",
		"The request body must be application/json.")
}

// readJSONObject reads a JSON object body. optional allows an empty body (nil
// map, no content-type check).
func readJSONObject(r *http.Request, optional bool) (map[string]any, *httpErr) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, badRequest("cannot read request body")
	}
	if optional && len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	if !isJSON(r) {
		return nil, unsupportedMedia()
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("Malformed JSON: " + err.Error())
	}
	if dec.More() {
		return nil, badRequest("Malformed JSON: trailing data")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("The request body must be a JSON object.")
	}
	return m, nil
}

// checkKeys rejects top-level keys outside allowed (additionalProperties: false).
func checkKeys(m map[string]any, allowed ...string) *httpErr {
	for k := range m {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return badRequest(fmt.Sprintf("Additional properties are not allowed ('%s' was unexpected)", k))
		}
	}
	return nil
}

// The lenient accessors below coerce numeric and boolean strings (§1.7).

func getString(m map[string]any, key string) (string, bool, *httpErr) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", false, nil
	}
	switch x := v.(type) {
	case string:
		return x, true, nil
	case json.Number:
		return x.String(), true, nil
	case bool:
		return strconv.FormatBool(x), true, nil
	}
	return "", false, badRequest(fmt.Sprintf("'%s' must be a string", key))
}

// getNullableString distinguishes absent (present=false), null (nil) and a value.
func getNullableString(m map[string]any, key string) (val *string, present bool, e *httpErr) {
	v, ok := m[key]
	if !ok {
		return nil, false, nil
	}
	if v == nil {
		return nil, true, nil
	}
	s, _, e := getString(m, key)
	if e != nil {
		return nil, true, e
	}
	return &s, true, nil
}

func toBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
	case json.Number:
		switch x.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}

func getBool(m map[string]any, key string) (val, present bool, e *httpErr) {
	v, ok := m[key]
	if !ok || v == nil {
		return false, false, nil
	}
	b, ok := toBool(v)
	if !ok {
		return false, true, badRequest(fmt.Sprintf("'%s' must be a boolean", key))
	}
	return b, true, nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, true
		}
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

func getInt(m map[string]any, key string) (val int64, present bool, e *httpErr) {
	v, ok := m[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	n, ok := toInt(v)
	if !ok {
		return 0, true, badRequest(fmt.Sprintf("'%s' must be an integer", key))
	}
	return n, true, nil
}

// getNullableInt distinguishes absent, null and a value.
func getNullableInt(m map[string]any, key string) (val *int64, present bool, e *httpErr) {
	v, ok := m[key]
	if !ok {
		return nil, false, nil
	}
	if v == nil {
		return nil, true, nil
	}
	n, ok := toInt(v)
	if !ok {
		return nil, true, badRequest(fmt.Sprintf("'%s' must be an integer or null", key))
	}
	return &n, true, nil
}

func getObject(m map[string]any, key string) (map[string]any, bool, *httpErr) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, true, badRequest(fmt.Sprintf("'%s' must be an object", key))
	}
	return o, true, nil
}

func getStringList(m map[string]any, key string) ([]string, bool, *httpErr) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, true, badRequest(fmt.Sprintf("'%s' must be an array", key))
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, true, badRequest(fmt.Sprintf("'%s' must be an array of strings", key))
		}
		out = append(out, s)
	}
	return out, true, nil
}

// splitList splits a comma-separated query value, dropping empty parts.
func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func queryBool(r *http.Request, key string) bool {
	b, _ := toBool(r.URL.Query().Get(key))
	return b
}

// decodeStrict decodes a JSON body into v, rejecting unknown fields.
func decodeStrict(r *http.Request, v any) *httpErr {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("Malformed JSON: " + err.Error())
	}
	return nil
}

// readVersionedPut reads a PUT body limited to keys that must carry the
// object's current version.
func readVersionedPut(r *http.Request, keys []string) (map[string]any, int64, *httpErr) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, keys...)
	}
	if e != nil {
		return nil, 0, e
	}
	version, ok, e := getInt(body, "version")
	if e != nil {
		return nil, 0, e
	}
	if !ok {
		return nil, 0, badRequest("'version' is a required property")
	}
	return body, version, nil
}
