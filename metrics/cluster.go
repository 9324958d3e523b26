package metrics

import (
	"time"

	"github.com/codebox-dev/codebox/cluster"
)

var _ cluster.Observer = (*Metrics)(nil)

// ObserveForward records one request forwarded to another node of the cluster: kind
// is "container" or "placement", code the status answered or "error".
func (m *Metrics) ObserveForward(kind, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.forwards.WithLabelValues(kind, code).Inc()
	m.forwardDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// ObserveAdopt records a stopped container of a dead node taken over by this one.
func (m *Metrics) ObserveAdopt() {
	if m != nil {
		m.adoptions.Inc()
	}
}
