// Package image builds and finds the root filesystem that every sandbox container runs
// on: Debian 12 (bookworm) with Python 3.11, a data-science stack and the usual command
// line tools, all from Debian packages because PyPI and container registries are not
// reachable from where codebox is built.
//
// A Recipe describes the image; its hash is the cache key. Build runs mmdebstrap into
// <dir>/<hash>.tmp, trims compilers and documentation, prepares what the sandbox needs
// (the unprivileged user, mount points, no setuid binaries), byte-compiles Python,
// verifies that every module imports and a plot renders, writes a manifest, and then
// renames the directory to <dir>/<hash> in one step, so a half-built image is never
// used. EnsureBuilt is what the server calls at start: it reuses the image whose hash
// matches the recipe and builds it otherwise. A lock file serialises builders.
//
// Building needs root, mmdebstrap, unshare and chroot (scripts/deps.sh installs them)
// and access to deb.debian.org.
package image
