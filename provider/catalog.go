package provider

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// ModelLister is implemented by drivers whose upstream can list its models.
type ModelLister interface {
	// ListModels returns upstream's models, with the ids it knows them by. Errors are
	// those of Model.Turn.
	ListModels(ctx context.Context) ([]ModelInfo, error)
}

// ModelInfo describes one model a client may name.
type ModelInfo struct {
	ID          string
	DisplayName string
	CreatedAt   time.Time
}

// Catalog lists what a Router serves: for each configured provider its upstream's
// models when the upstream can list them, named as a request names them
// ("mistral/mistral-small-latest"), or else one entry standing for the provider
// ("mistral/*") whose display name says why no models are listed. Upstream lists are
// kept for TTL.
type Catalog struct {
	Router *Router
	// Titles are the providers' display names by name; missing ones show the name.
	Titles map[string]string
	// TTL is how long an upstream's list is kept (default 5 minutes); failures are kept
	// a tenth of it.
	TTL time.Duration
	// Timeout bounds one upstream's listing (default 5 seconds).
	Timeout time.Duration

	mu    sync.Mutex
	cache map[string]listing
}

type listing struct {
	models  []ModelInfo
	err     error
	expires time.Time
}

// Models lists the catalog, in the order of Router.Names and, within a provider, of
// its upstream. Upstreams are asked at once, in parallel.
func (c *Catalog) Models(ctx context.Context) []ModelInfo {
	names := c.Router.Names()
	lists := make([][]ModelInfo, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { lists[i] = c.provider(ctx, name) })
	}
	wg.Wait()
	var out []ModelInfo
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// provider lists one provider's entries.
func (c *Catalog) provider(ctx context.Context, name string) []ModelInfo {
	title := c.Titles[name]
	if title == "" {
		title = name
	}
	if name == "script" {
		var out []ModelInfo
		for _, s := range strings.Split(c.Router.scriptNames(), ", ") {
			out = append(out, ModelInfo{ID: "script/" + s, DisplayName: "Script " + s})
		}
		return out
	}
	m := c.Router.Anthropic
	if name != "anthropic" {
		m = c.Router.Named[name]
	}
	lister, ok := m.(ModelLister)
	if !ok {
		return []ModelInfo{{ID: name + "/*", DisplayName: title + " (any model: " + name + "/<model>)"}}
	}
	l := c.listing(ctx, name, lister)
	if l.err != nil {
		return []ModelInfo{{ID: name + "/*", DisplayName: title + " (any model: " + name + "/<model>; its models cannot be listed: " + publicMessage(l.err) + ")"}}
	}
	out := make([]ModelInfo, 0, len(l.models))
	for _, mi := range l.models {
		if name != "anthropic" {
			mi.ID = name + "/" + mi.ID
		}
		if mi.DisplayName == "" {
			mi.DisplayName = title + " " + mi.ID[strings.Index(mi.ID, "/")+1:]
		}
		out = append(out, mi)
	}
	return out
}

// publicMessage is what a client may read of err: its public message, never the
// private cause (which may name upstream hosts).
func publicMessage(err error) string {
	var pub *errdefs.Public
	if errors.As(err, &pub) {
		return pub.Message
	}
	return "the upstream model provider did not answer"
}

// listing returns name's upstream list, from the cache while it is fresh.
func (c *Catalog) listing(ctx context.Context, name string, lister ModelLister) listing {
	ttl, timeout := c.TTL, c.Timeout
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	c.mu.Lock()
	l, ok := c.cache[name]
	c.mu.Unlock()
	if ok && time.Now().Before(l.expires) {
		return l
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	models, err := lister.ListModels(lctx)
	if ctx.Err() != nil {
		return listing{err: ctx.Err()} // the client left: nothing learnt about upstream
	}
	l = listing{models: models, err: err, expires: time.Now().Add(ttl)}
	if err != nil {
		l.expires = time.Now().Add(ttl / 10)
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]listing{}
	}
	c.cache[name] = l
	c.mu.Unlock()
	return l
}
