// Package cluster lets several codebox nodes share one database and serve any request
// from any node, so that clients can reach them through one load balancer.
//
// Every node registers itself in the Store and heartbeats every HeartbeatInterval with
// its advertised URL and its load (running containers against the sandbox's cap); a
// node whose last heartbeat is older than NodeTimeout, by the database's clock, is
// dead. A container lives on the node that created it (sandbox.Container.Node): its
// disk and its processes are there. Route, called by the api package for every
// authenticated request, decides where a request runs:
//
//   - a request that names a container (/v1/containers/{id}/…, a Messages request
//     whose container is an id or {id, skills}) goes to the node hosting it;
//   - a request that creates a container (POST /v1/containers, a Messages request with
//     a code execution tool and no container) goes to the least loaded live node;
//   - everything else (files, keys, usage, batches, skills) is served where it arrives,
//     from the shared database and object store.
//
// A request for another node is reverse-proxied to it, streams flushed as they come,
// with the client's own headers (the receiving node authenticates the key again) and a
// Forwarded-By header that makes the receiver serve it itself, so a request crosses at
// most one hop. A container whose node is dead answers errdefs.ErrUnreachable (503,
// container_unavailable) at once, and a forwarded request is cut when its node stops
// heartbeating, so nothing waits on a node that is gone. A stopped container of a dead
// node is adopted by the node that receives a request for it when Config.Adopt is set
// (its disk was saved where every node can fetch it, see sandbox.DiskArchive): the
// Store moves it with a compare-and-set, so of two nodes that try, one wins and the
// other forwards to it. A running one stays unreachable until its node returns and
// reconciles it, as a single server does after a restart.
package cluster
