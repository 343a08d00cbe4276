// Package smtpurl reads SMTP_URL: smtp://user:pass@host:port?starttls=...
// or smtps://user:pass@host:port. Its errors never repeat the URL, which
// may carry a password.
package smtpurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// STARTTLS policies of a smtp:// server.
const (
	StartTLSMandatory     = "mandatory"     // refuse a server that does not offer STARTTLS
	StartTLSOpportunistic = "opportunistic" // use it when offered
	StartTLSNone          = "none"          // never (a local catcher such as Mailpit)
)

// Server is where mail goes.
type Server struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is implicit TLS from the first byte (smtps://).
	TLS bool
	// StartTLS is the policy of a smtp:// connection.
	StartTLS string
}

// String shows the server without its password, for logs.
func (s Server) String() string {
	scheme := "smtp"
	if s.TLS {
		scheme = "smtps"
	}
	user := ""
	if s.Username != "" {
		user = s.Username + ":***@"
	}
	q := ""
	if !s.TLS {
		q = "?starttls=" + s.StartTLS
	}
	return scheme + "://" + user + net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + q
}

// Parse reads an SMTP URL. Default ports: 587 for smtp, 465 for smtps.
// Default STARTTLS policy: mandatory when credentials are given (so a
// password never crosses the network in clear), opportunistic otherwise.
func Parse(raw string) (Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Server{}, errors.New("not a URL like smtp://user:pass@host:587")
	}
	var s Server
	switch u.Scheme {
	case "smtp":
	case "smtps":
		s.TLS = true
	default:
		return Server{}, errors.New("scheme must be smtp or smtps")
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return Server{}, errors.New("no host")
	}
	s.Port = 587
	if s.TLS {
		s.Port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Server{}, errors.New("port must be 1..65535")
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return Server{}, errors.New("no path or fragment allowed")
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return Server{}, fmt.Errorf("unknown parameter %q (only starttls)", k)
		}
	}
	s.StartTLS = StartTLSOpportunistic
	if s.Username != "" {
		s.StartTLS = StartTLSMandatory
	}
	if v := q.Get("starttls"); v != "" {
		v = strings.ToLower(v)
		if v != StartTLSMandatory && v != StartTLSOpportunistic && v != StartTLSNone {
			return Server{}, fmt.Errorf("starttls must be mandatory, opportunistic or none, not %q", v)
		}
		if s.TLS {
			return Server{}, errors.New("starttls does not apply to smtps (TLS from the start)")
		}
		s.StartTLS = v
	}
	if s.TLS {
		s.StartTLS = ""
	}
	return s, nil
}
