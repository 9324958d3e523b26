// Package web holds the console's embedded assets: a page at / that talks to the API
// from the browser with the user's own key, and its scripts and styles under /console/,
// a prefix no API route uses. Everything is plain HTML, CSS and JavaScript compiled into
// the binary, so the console works with no build step and no host but codebox itself.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Prefix is the path the console's assets are served under.
const Prefix = "/console/"

// csp keeps the page to its own origin: scripts and styles only from /console/, API
// calls to the same server, images also from the blob: URLs the page makes of
// downloaded files.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Handler serves the console: index.html at / and the assets under Prefix.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	assets := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		// Assets change with the binary; revalidating is cheap on loopback and LANs.
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		assets.ServeHTTP(w, r)
	})
}
