package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codebox-dev/codebox/sandbox"
)

// SandboxStats is what the sandbox collector reads on each scrape; *sandbox.Manager
// satisfies it.
type SandboxStats interface {
	Stats() sandbox.Stats
}

// RegisterSandbox adds the containers-by-status and warm-pool gauges, read from src on
// each scrape.
func (m *Metrics) RegisterSandbox(src SandboxStats) {
	m.reg.MustRegister(&sandboxCollector{src: src})
}

var (
	containersDesc = prometheus.NewDesc(namespace+"_containers",
		"Containers owned by workspaces, by status (running, stopped, expired); the warm pool is not included.",
		[]string{"status"}, nil)
	poolSizeDesc = prometheus.NewDesc(namespace+"_pool_size",
		"Pre-started containers the warm pool keeps ready now (--pool-size to --pool-max, following demand).", nil, nil)
	poolReadyDesc = prometheus.NewDesc(namespace+"_pool_ready",
		"Pre-started containers waiting in the warm pool now.", nil, nil)
)

type sandboxCollector struct{ src SandboxStats }

func (c *sandboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- containersDesc
	ch <- poolSizeDesc
	ch <- poolReadyDesc
}

func (c *sandboxCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	// Every status is reported, zero included, so that a series never vanishes.
	for _, s := range []sandbox.Status{sandbox.StatusRunning, sandbox.StatusStopped, sandbox.StatusExpired} {
		ch <- prometheus.MustNewConstMetric(containersDesc, prometheus.GaugeValue, float64(st.Containers[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(poolSizeDesc, prometheus.GaugeValue, float64(st.PoolSize))
	ch <- prometheus.MustNewConstMetric(poolReadyDesc, prometheus.GaugeValue, float64(st.PoolReady))
}

// StorageStats is what the storage collector reads on each scrape; *sqlite.DB
// satisfies it.
type StorageStats interface {
	// StoredFiles returns how many files the Files API holds across every workspace and
	// their total size in bytes.
	StoredFiles(ctx context.Context) (files, bytes int64, err error)
}

// RegisterStorage adds the stored-files gauges, read from src on each scrape.
func (m *Metrics) RegisterStorage(src StorageStats) {
	m.reg.MustRegister(&storageCollector{src: src})
}

// storageTimeout bounds the query a scrape runs, so that a stuck database cannot hold
// scrapes open.
const storageTimeout = 5 * time.Second

var (
	storedBytesDesc = prometheus.NewDesc(namespace+"_stored_bytes",
		"Bytes of the files the Files API stores, across every workspace.", nil, nil)
	storedFilesDesc = prometheus.NewDesc(namespace+"_stored_files",
		"Files the Files API stores, across every workspace.", nil, nil)
)

type storageCollector struct{ src StorageStats }

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storedBytesDesc
	ch <- storedFilesDesc
}

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	n, size, err := c.src.StoredFiles(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(storedBytesDesc, err)
		ch <- prometheus.NewInvalidMetric(storedFilesDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(storedBytesDesc, prometheus.GaugeValue, float64(size))
	ch <- prometheus.MustNewConstMetric(storedFilesDesc, prometheus.GaugeValue, float64(n))
}
