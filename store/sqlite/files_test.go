package sqlite_test

import (
	"testing"

	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/files/filestest"
)

func TestFileStore(t *testing.T) {
	filestest.RunStore(t, func(t *testing.T) files.Store { return MustOpen(t) })
}
