package event_test

import (
	"testing"

	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
