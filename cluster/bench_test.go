package cluster_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
)

// BenchmarkExec is the cost of one hop: a trivial command in a container of node-a,
// sent to node-a itself (local) and to node-b, which forwards it (forwarded). The
// difference is what forwarding adds to a request.
func BenchmarkExec(b *testing.B) {
	sh := newShared(b, catNotes)
	a := startNode(b, sh, "node-a", nodeOptions{})
	o := startNode(b, sh, "node-b", nodeOptions{idBase: sandbox.DefaultIDBase + 1<<28})
	id := sh.createOn(b, a)
	for _, bc := range []struct {
		name string
		via  *node
	}{{"local", a}, {"forwarded", o}} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{}
			for b.Loop() {
				req, _ := http.NewRequest("POST", bc.via.url+"/v1/containers/"+id+"/exec", strings.NewReader(`{"command":"true"}`))
				req.Header.Set("x-api-key", sh.key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("exec via %s = %d", bc.via.name, resp.StatusCode)
				}
			}
		})
	}
}
