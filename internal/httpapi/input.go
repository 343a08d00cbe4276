package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/internal/errs"
)

// checkInput refuses what the schema validator cannot see and PostgreSQL
// would refuse later as a 500: NUL characters, invalid UTF-8 and lone UTF-16
// surrogates in any string (body, keys too, path, query, the headers we
// store), plus duplicate keys and trailing data in a JSON body, which
// encoding/json silently accepts. The body stays readable for what follows.
func checkInput(c echo.Context, headers []string) error {
	r := c.Request()
	for i, name := range c.ParamNames() {
		v := c.ParamValues()[i]
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		if !cleanString(v) {
			return badText(name)
		}
	}
	for name, vs := range r.URL.Query() {
		if !cleanString(name) {
			return badText(printable(name))
		}
		for _, v := range vs {
			if !cleanString(v) {
				return badText(name)
			}
		}
	}
	for _, name := range headers {
		for _, v := range r.Header.Values(name) {
			if !cleanString(v) {
				return badText(name)
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody || !isJSON(r.Header.Get(echo.HeaderContentType)) {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // the body limit's 413, handled as any error
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(bytes.TrimSpace(body)) == 0 {
		return nil // the validator says the body is required
	}
	return checkJSON(body)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// cleanString is valid UTF-8 without NUL.
func cleanString(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func badText(field string) *errs.Error {
	return errs.Invalid(field, "invalid_format", "must be valid UTF-8 text without NUL characters")
}

func malformed(field, code, msg string) *errs.Error {
	return &errs.Error{Kind: errs.KindInvalid, Code: "malformed_json", Message: "The request body is not valid JSON.",
		Fields: []errs.FieldError{{Field: field, Code: code, Message: msg}}}
}

// printable makes a name safe to echo back in a field.
func printable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// maxDepth bounds nesting: no request of the API comes close, and the walk
// keeps a frame per level.
const maxDepth = 64

// frame is one open object or array of the walk.
type frame struct {
	object bool
	path   string
	keys   map[string]struct{}
	key    bool   // object: the next token is a key
	member string // object: the path of the value that follows the key
	index  int    // array: the next element's index
}

// checkJSON walks the document's tokens once: syntax, duplicate keys,
// trailing data, and the raw text of every string.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	prev := int64(0)
	root := true
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if root || len(stack) > 0 {
				return malformed("body", "malformed_json", "unexpected end of the document")
			}
			return nil
		}
		if err != nil {
			if !root && len(stack) == 0 {
				return malformed("body", "trailing_data", "data after the end of the document")
			}
			return malformed("body", "malformed_json", err.Error())
		}
		if !root && len(stack) == 0 {
			return malformed("body", "trailing_data", "data after the end of the document")
		}
		off := dec.InputOffset()
		rawTok := body[prev:off]
		prev = off

		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].key = true
			}
			continue
		}
		// The path of this token: a key names itself; a value the key or
		// index before it.
		path := ""
		switch {
		case top == nil:
		case top.object && top.key:
			k := tok.(string)
			path = join(top.path, printable(k))
			if !rawStringOK(rawTok) {
				return badText(path)
			}
			if _, dup := top.keys[k]; dup {
				return malformed(path, "duplicate_key", "the key appears more than once in its object")
			}
			top.keys[k] = struct{}{}
			top.key = false
			top.member = path
			continue
		case top.object:
			path = top.member
			top.key = true
		default:
			path = join(top.path, strconv.Itoa(top.index))
			top.index++
		}
		root = false
		switch v := tok.(type) {
		case json.Delim:
			if len(stack) == maxDepth {
				return malformed(path, "too_deep", "nested more than "+strconv.Itoa(maxDepth)+" levels")
			}
			f := &frame{object: v == '{', path: path}
			if f.object {
				f.keys = map[string]struct{}{}
				f.key = true
			}
			stack = append(stack, f)
		case string:
			if !rawStringOK(rawTok) {
				if path == "" {
					path = "body"
				}
				return badText(path)
			}
		}
	}
}

func join(base, name string) string {
	if base == "" {
		return name
	}
	return base + "." + name
}

// rawStringOK checks the raw text of a string token (with whatever
// separators precede it): valid UTF-8, no \u0000, no lone surrogate.
func rawStringOK(raw []byte) bool {
	i := bytes.IndexByte(raw, '"')
	if i < 0 {
		return true
	}
	s := raw[i:]
	if !utf8.Valid(s) {
		return false
	}
	for j := 0; j < len(s); j++ {
		if s[j] != '\\' {
			continue
		}
		j++
		if j >= len(s) || s[j] != 'u' {
			continue
		}
		r, ok := hex4(s, j+1)
		if !ok {
			continue // the decoder has already refused it
		}
		j += 4
		switch {
		case r == 0:
			return false
		case r >= 0xD800 && r < 0xDC00: // high: a low one must follow
			if j+6 >= len(s) || s[j+1] != '\\' || s[j+2] != 'u' {
				return false
			}
			lo, ok := hex4(s, j+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			j += 6
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		}
	}
	return true
}

func hex4(s []byte, at int) (rune, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[at:at+4]), 16, 32)
	return rune(n), err == nil
}
