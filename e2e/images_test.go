package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// TestUnknownContainerImage: a Messages request naming an image the server does not
// have (container.image, a codebox extension) is a 400 naming it, before any model
// call.
func TestUnknownContainerImage(t *testing.T) {
	e := newEnv(t, formatAnthropic, scriptOf(turn(bash("echo hi")), turn(text("Done."))), envOptions{})
	p := e.params(anthropic.NewTextBlock("Say hi"))
	_, err := e.client(e.keyA).Messages.New(context.Background(), p, option.WithJSONSet("container", map[string]any{"image": "no-such-image"}))
	ae := apiError(t, err, 400, "invalid_request_error")
	if !strings.Contains(ae.RawJSON(), `no-such-image`) {
		t.Errorf("error = %s, want it to name the image", ae.RawJSON())
	}
	if n := len(e.upstream.Requests()); n != 0 {
		t.Errorf("the model was called %d times", n)
	}
}
