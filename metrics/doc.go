// Package metrics owns codebox's Prometheus registry: what an operator scrapes from
// GET /metrics.
//
// Other packages know nothing of Prometheus. Each states the small observer interface
// it needs where it consumes it (api.RequestObserver, sandbox.ExecObserver,
// agentloop.TurnObserver), and *Metrics satisfies them all. State that already lives
// somewhere (containers by status, the warm pool, stored bytes) is not counted twice:
// collectors read it from its owner on each scrape. Labels are bounded by design: route
// patterns rather than paths, and never an id, a workspace or a model name.
package metrics
