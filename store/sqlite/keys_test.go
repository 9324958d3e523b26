package sqlite_test

import (
	"testing"

	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/apikey/apikeytest"
)

func TestKeyStore(t *testing.T) {
	apikeytest.RunStore(t, func(t *testing.T) apikey.Store { return MustOpen(t) })
}
