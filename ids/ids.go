// Package ids makes and checks the opaque identifiers codebox hands out
// (file_…, container_…, msg_…, srvtoolu_…, req_…).
//
// IDs are a prefix plus 24 base62 characters from crypto/rand (about 143 bits), so they
// cannot be guessed. Valid is strict so that an ID can be used in a path or a query
// only after it has passed.
package ids

import (
	"crypto/rand"
	"strings"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Length is the number of random characters after the prefix.
const Length = 24

// New returns prefix followed by Length random base62 characters, e.g. New("file_").
func New(prefix string) string {
	var b [Length]byte
	// Rejection sampling keeps the distribution uniform: 248 = 4*62.
	var buf [64]byte
	n := 0
	for n < Length {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 248 && n < Length {
				b[n] = alphabet[c%62]
				n++
			}
		}
	}
	return prefix + string(b[:])
}

// Valid reports whether s is prefix followed by 1 to 64 characters of [0-9A-Za-z_-].
// It accepts IDs from earlier formats as well as New's, but never '/', '.', or anything
// that could change a path or a query's meaning.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) == 0 || len(rest) > 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
