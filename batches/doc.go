// Package batches runs Message Batches: many Messages requests submitted at once and
// answered asynchronously. It owns a batch's lifecycle (in_progress → canceling →
// ended), the durable queue of its requests, the bounded pool of workers that run each
// request through the same Messages path as an interactive one (an Executor), and the
// results.
//
// Everything a batch is lives in a Store: a worker claims a request through the store
// (a lease, so that a restarted server, or another one sharing the database, takes
// over the claims of one that died) and writes its result in the same transaction that
// updates the batch's counts, with the claim's token, so a request is answered once. A
// request that was running when its server died runs again; one that has a result
// never does.
package batches
