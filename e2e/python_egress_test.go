package e2e

import (
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/egress/egresstest"
)

// TestPythonOpenAINetworkPolicy creates an allow-listed container with a domain secret
// through the official openai SDK and uses the network from inside it, against an
// HTTPS server on loopback that the proxy's configuration maps api.example.test to.
func TestPythonOpenAINetworkPolicy(t *testing.T) {
	pool, cert := egresstest.CA(t, "api.example.test")
	up := egresstest.NewUpstream(t, cert)
	x, err := egress.New(egress.Config{RootCAs: pool, Resolve: map[string]string{"api.example.test:443": up.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	p := newPyEnv(t, sdkLatest, scriptOf(turn(text("ok"))), envOptions{containers: true, egress: x})
	const secret = "tok-e2e-51c0ffee"
	p.vars = append(p.vars, "CODEBOX_TEST_SECRET="+secret)
	out := p.runScript(t, "check_openai_network.py")
	wantLines(t, out,
		"policy: allowlist api.example.test\n",
		"token: "+egress.Placeholder("API_TOKEN")+"\n",
		"listed: hello from api.example.test\n",
		"refused: http://example.com/ 403\n",
		"refused: https://example.com/ URLError\n",
		"refused: http://169.254.169.254/latest/meta-data/ 403\n",
		"refused: http://127.0.0.1:8080/ URLError\n", // the container's own loopback: nothing there
	)
	if strings.Contains(out, "REACHED") {
		t.Errorf("the container reached a destination off its list:\n%s", out)
	}
	if got := (<-up.Got).Header.Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("the upstream got Authorization %q", got)
	}
}
