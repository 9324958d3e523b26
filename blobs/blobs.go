// Package blobs holds what the blobs drivers (blobs/disk, blobs/s3) share: the rule for
// keys and how an upload is read. The interface they implement is files.Blobs; blobs/blobstest is its conformance
// suite.
package blobs

import "io"

// ValidKey reports whether key is a flat name of the characters of codebox ids, at most
// 128 bytes, not starting with a dot: a key never names a path outside its store (a
// directory, another namespace of a shared bucket) or a driver's temporary object.
func ValidKey(key string) bool {
	if key == "" || len(key) > 128 || key[0] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Fill reads from r until buf is full or r ends. Unlike io.ReadFull it returns io.EOF at
// the end however much it read, and passes any other error of r through, including an
// io.ErrUnexpectedEOF of r's own (a cut request), which must not pass for a clean end.
func Fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
