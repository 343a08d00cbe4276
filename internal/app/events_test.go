package app

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/event"
	"github.com/acronis-platform/platform/internal/webhook"
)

// Endpoints may subscribe to exactly the types the event log records.
func TestWebhookTypesAreEventTypes(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, event.Types, webhook.EventTypes)
}
