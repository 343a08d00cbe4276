package mail_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/mail"
	"github.com/acronis-platform/platform/internal/mail/mailtest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// BenchmarkMailBurst: one op queues MAIL_BURST (default 1000) invoice
// mails in one transaction and waits until the send jobs marked every one
// sent, delivered over SMTP into a private Mailpit. mails/s counts from
// the commit to the last one sent.
func BenchmarkMailBurst(b *testing.B) {
	burst := 1000
	if v := os.Getenv("MAIL_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		burst = n
	}
	mp := mailtest.New(b)
	cfg := apptest.Config(b)
	cfg.DatabaseURL = pgtest.NewDatabase(b, true)
	cfg.SMTPURL, cfg.MailFrom, cfg.MailBackoffMax = mp.SMTPURL(), from, time.Second
	env := apptest.Start(b, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(b, env.App.Jobs.Start(ctx))
	b.Cleanup(func() {
		cancel()
		_ = env.App.Jobs.Stop(context.Background())
	})
	db := env.App.DB.Gorm
	sent := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		require.NoError(b, db.Transaction(func(tx *gorm.DB) error {
			for j := range burst {
				m := invoiceMail(fmt.Sprintf("burst-%d-%d@example.com", i, j))
				m.Data.Invoice.Number = fmt.Sprintf("BENCH-%d-%06d", i, j)
				if _, err := env.App.Mail.EnqueueTx(ctx, tx, m); err != nil {
					return err
				}
			}
			return nil
		}))
		sent += burst
		for {
			var n int64
			require.NoError(b, db.Model(&mail.Notification{}).Where("status = ?", mail.StatusSent).Count(&n).Error)
			if int(n) >= sent {
				break
			}
			var failed int64
			require.NoError(b, db.Model(&mail.Notification{}).Where("status = ?", mail.StatusFailed).Count(&failed).Error)
			require.Zero(b, failed, "no mail of the burst fails")
			time.Sleep(20 * time.Millisecond)
		}
	}
	elapsed := b.Elapsed()
	b.StopTimer()
	_, total := mp.All(b, 1)
	require.Equal(b, sent, total, "Mailpit caught every mail once")
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "mails/s")
}
