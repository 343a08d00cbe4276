package smtpurl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/mail/smtpurl"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw string
		want      smtpurl.Server
		err       string
	}{
		{"plain local catcher", "smtp://127.0.0.1:1025?starttls=none", smtpurl.Server{Host: "127.0.0.1", Port: 1025, StartTLS: "none"}, ""},
		{"credentials make STARTTLS mandatory", "smtp://u:p%40ss-secret@mail.example.com", smtpurl.Server{Host: "mail.example.com", Port: 587, Username: "u", Password: "p@ss-secret", StartTLS: "mandatory"}, ""},
		{"no credentials: opportunistic", "smtp://mail.example.com:25", smtpurl.Server{Host: "mail.example.com", Port: 25, StartTLS: "opportunistic"}, ""},
		{"explicit policy", "smtp://u:pw-secret@mail.example.com?starttls=Opportunistic", smtpurl.Server{Host: "mail.example.com", Port: 587, Username: "u", Password: "pw-secret", StartTLS: "opportunistic"}, ""},
		{"smtps", "smtps://u:pw-secret@mail.example.com", smtpurl.Server{Host: "mail.example.com", Port: 465, Username: "u", Password: "pw-secret", TLS: true}, ""},
		{"wrong scheme", "http://u:secret@mail.example.com", smtpurl.Server{}, "scheme"},
		{"no host", "smtp://", smtpurl.Server{}, "no host"},
		{"bad port", "smtp://u:secret@mail.example.com:99999", smtpurl.Server{}, "port"},
		{"bad policy", "smtp://u:secret@mail.example.com?starttls=maybe", smtpurl.Server{}, "starttls"},
		{"policy on smtps", "smtps://u:secret@mail.example.com?starttls=none", smtpurl.Server{}, "smtps"},
		{"unknown parameter", "smtp://u:secret@mail.example.com?tls=1", smtpurl.Server{}, "unknown"},
		{"path", "smtp://u:secret@mail.example.com/x", smtpurl.Server{}, "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := smtpurl.Parse(tt.raw)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "secret", "an error never repeats the password")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if got.Password != "" {
				require.NotContains(t, got.String(), got.Password)
			}
		})
	}
}
