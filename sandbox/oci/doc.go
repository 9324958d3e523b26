// Package oci is the sandbox's container runtime driver: it writes an OCI bundle
// (config.json built as data from DefaultSpec plus small SpecOpt functions) and runs it
// with an OCI runtime binary, runc by default or gVisor's runsc.
//
// The runtime binary runs each container detached with its state under a root directory
// private to the server, so a restarted server finds exactly its own containers again.
package oci
