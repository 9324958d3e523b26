// Package multinode holds the tests of several codebox nodes sharing one database and
// one bucket (make test-cluster): a real PostgreSQL (internal/testenv.Postgres), a real
// S3-compatible server (SeaweedFS, internal/testenv.S3) and three `codebox serve`
// processes on loopback, driven by the official Go SDK through a node other than the one
// hosting the container, then with one node killed under load; and the benchmark of the
// seed workflow through one node and through three, with the cost of a forwarded
// request. The scripted model (provider/script) stands in for the LLM. Without root, the
// runtime, the image, PostgreSQL or SeaweedFS the tests skip on a developer's machine and
// fail in CI (see internal/testenv).
package multinode
