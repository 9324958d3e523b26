package multinode

import (
	"context"
	"fmt"
	"os"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/codebox-dev/codebox/bench"
)

// Settings of BenchmarkCluster: the seed workflow's concurrent clients and how long each
// setup runs them, and the exec requests timed for the forwarding's cost.
const (
	benchClients  = 4
	benchDuration = 30 * time.Second
	benchExecs    = 200
)

// BenchmarkCluster measures the seed workflow (upload sales.csv, Messages with code
// execution by script/sales, download chart.png) through one node and through three
// (each request to the next node, as a round-robin load balancer sends them), on one
// fresh PostgreSQL database and bucket each, and the extra latency of an exec forwarded
// by another node over the same exec sent to the hosting node, and prints one table.
// Run it once: go test -run '^$' -bench Cluster -benchtime 1x ./e2e/multinode.
func BenchmarkCluster(b *testing.B) {
	ctx := context.Background()
	var rows []benchRow
	for _, n := range []int{1, 3} {
		c := newCluster(b, n)
		var urls []string
		for _, nd := range c.nodes {
			urls = append(urls, nd.url)
		}
		res, err := bench.RunLoad(ctx, bench.LoadConfig{BaseURLs: urls, APIKey: apiKey, Levels: []int{benchClients},
			Duration: benchDuration, Download: true})
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, benchRow{fmt.Sprintf("%d node(s)", n), res[0]})
		if n == 3 {
			direct, forwarded := forwardingCost(b, c)
			printCluster(b, rows, direct, forwarded)
		}
		for _, nd := range c.nodes {
			c.stop(b, nd)
		}
	}
}

// forwardingCost times benchExecs execs of `true` in one container sent to its host
// and as many sent to another node, alternately so that both see the same machine.
func forwardingCost(b *testing.B, c *cluster) (direct, forwarded *bench.Series) {
	var ctr struct {
		ID string `json:"id"`
	}
	if code := c.call(b, c.nodes[0], "POST", "/v1/containers", map[string]string{"name": "bench"}, &ctr); code != 200 {
		b.Fatalf("create container: %d", code)
	}
	host := c.node(b, c.hostOf(b, ctr.ID))
	via := c.other(b, host.name)
	direct, forwarded = &bench.Series{}, &bench.Series{}
	for i := range 2 * benchExecs {
		nd, s := host, direct
		if i%2 == 1 {
			nd, s = via, forwarded
		}
		t0 := time.Now()
		if code := c.call(b, nd, "POST", "/v1/containers/"+ctr.ID+"/exec", map[string]string{"command": "true"}, nil); code != 200 {
			b.Fatalf("exec through %s: %d", nd.name, code)
		}
		s.Samples = append(s.Samples, time.Since(t0))
	}
	c.call(b, host, "DELETE", "/v1/containers/"+ctr.ID, nil, nil)
	return direct, forwarded
}

// benchRow is what one setup of BenchmarkCluster measured.
type benchRow struct {
	name string
	res  bench.LevelResult
}

func printCluster(b *testing.B, rows []benchRow, direct, forwarded *bench.Series) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintf(os.Stdout, "\nseed workflow (upload → Messages with code execution, script/sales → download), %d clients for %s\n\n",
		benchClients, benchDuration)
	fmt.Fprintln(w, "setup\tworkflows\tfailed\twf/s\tp50\tp99\t")
	base := rows[0].res.Throughput()
	for _, r := range rows {
		s := &bench.Series{Samples: r.res.Latencies}
		fmt.Fprintf(w, "%s\t%d\t%d\t%.2f (×%.2f)\t%s\t%s\t\n", r.name, r.res.Completed(), r.res.Failed(), r.res.Throughput(),
			r.res.Throughput()/base, msOf(s.Percentile(50)), msOf(s.Percentile(99)))
	}
	w.Flush()
	fmt.Fprintf(os.Stdout, "\nexec of `true` in one container, %d each, alternated\n\n", benchExecs)
	fmt.Fprintln(w, "sent to\tp50\tp99\t")
	fmt.Fprintf(w, "the hosting node\t%s\t%s\t\n", msOf(direct.Percentile(50)), msOf(direct.Percentile(99)))
	fmt.Fprintf(w, "another node (forwarded)\t%s\t%s\t\n", msOf(forwarded.Percentile(50)), msOf(forwarded.Percentile(99)))
	fmt.Fprintf(w, "extra for forwarding\t%s\t%s\t\n", msOf(forwarded.Percentile(50)-direct.Percentile(50)),
		msOf(forwarded.Percentile(99)-direct.Percentile(99)))
	w.Flush()
	for _, r := range rows {
		if r.res.Failed() > 0 {
			b.Errorf("%s: failed workflows: %v", r.name, r.res.Errors)
		}
	}
}

func msOf(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
