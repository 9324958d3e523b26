package sandboxtest

import (
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
)

func TestMemStore(t *testing.T) {
	RunStore(t, func(t *testing.T) sandbox.Store { return NewMemStore() })
}
