package sqlite_test

import (
	"testing"

	"github.com/codebox-dev/codebox/agentloop/usagetest"
)

func TestUsageStore(t *testing.T) {
	usagetest.RunStore(t, func(t *testing.T) usagetest.Store { return MustOpen(t) })
}
