package postgres_test

import (
	"testing"

	"github.com/codebox-dev/codebox/agentloop/usagetest"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/apikey/apikeytest"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/files/filestest"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestFileStore(t *testing.T) {
	filestest.RunStore(t, func(t *testing.T) files.Store { return MustOpen(t) })
}

func TestKeyStore(t *testing.T) {
	apikeytest.RunStore(t, func(t *testing.T) apikey.Store { return MustOpen(t) })
}

func TestUsageStore(t *testing.T) {
	usagetest.RunStore(t, func(t *testing.T) usagetest.Store { return MustOpen(t) })
}

func TestWorkspaceImages(t *testing.T) {
	sandboxtest.RunWorkspaceImages(t, func(t *testing.T) sandboxtest.WorkspaceImages { return MustOpen(t) })
}
