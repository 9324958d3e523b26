package sqlite_test

import (
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestContainerStore(t *testing.T) {
	sandboxtest.RunStore(t, func(t *testing.T) sandbox.Store { return MustOpen(t) })
}
