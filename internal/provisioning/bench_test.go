package provisioning_test

import (
	"context"
	"testing"
)

// BenchmarkCreateAccount is one full provisioning flow (items check, tenant,
// production mode, quotas, user, password, access policy) against the
// simulator over loopback HTTP.
func BenchmarkCreateAccount(b *testing.B) {
	s, m := setupB(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.CreateAccount(ctx, account(s)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
