package skills_test

import (
	"os"
	"testing"

	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	os.Exit(m.Run())
}
