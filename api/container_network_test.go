package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/egress/egresstest"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestContainerNetworkPolicy: the official OpenAI Go SDK creates a container with an
// allow-list and a domain secret; the container object shows the policy without the
// secret; code in the container reaches the listed domain, with the secret put in by
// the proxy, and nothing else.
func TestContainerNetworkPolicy(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testContainerNetworkPolicy)
}

func testContainerNetworkPolicy(t *testing.T, runtime string) {
	pool, cert := egresstest.CA(t, "api.example.test")
	up := egresstest.NewUpstream(t, cert)
	x, err := egress.New(egress.Config{RootCAs: pool, Resolve: map[string]string{"api.example.test:443": up.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := realServer(t, runtime, func(c *sandbox.Config) { c.Egress = x })
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("key1"))
	ctx := context.Background()
	const value = "secret-value-4242"
	c, err := client.Containers.New(ctx, openai.ContainerNewParams{
		Name: "net",
		NetworkPolicy: openai.ContainerNewParamsNetworkPolicyUnion{OfAllowlist: &responses.ContainerNetworkPolicyAllowlistParam{
			AllowedDomains: []string{"api.example.test"},
			DomainSecrets:  []responses.ContainerNetworkPolicyDomainSecretParam{{Domain: "api.example.test", Name: "TOKEN", Value: value}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.NetworkPolicy.Type != "allowlist" || len(c.NetworkPolicy.AllowedDomains) != 1 || c.NetworkPolicy.AllowedDomains[0] != "api.example.test" {
		t.Errorf("created: network_policy = %s", c.NetworkPolicy.RawJSON())
	}
	if strings.Contains(c.RawJSON(), value) || strings.Contains(c.RawJSON(), "domain_secrets") {
		t.Errorf("the container object shows the secret: %s", c.RawJSON())
	}
	got, err := client.Containers.Get(ctx, c.ID)
	if err != nil || got.NetworkPolicy.Type != "allowlist" || strings.Contains(got.RawJSON(), value) {
		t.Errorf("get: %v %s", err, got.RawJSON())
	}

	code := `import os, urllib.request
req = urllib.request.Request("https://api.example.test/data", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
print(urllib.request.urlopen(req, timeout=30).read().decode(), os.environ["TOKEN"] == ` + "\"" + value + "\"" + `)
try:
    urllib.request.urlopen("http://example.com/", timeout=30)
except urllib.error.HTTPError as e:
    print("refused", e.code)`
	body, _ := json.Marshal(map[string]string{"code": code})
	res := decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers/" + c.ID + "/python", body: strings.NewReader(string(body))}, http.StatusOK))
	if res.Stdout != "hello from api.example.test False\nrefused 403\n" {
		t.Fatalf("in the container: %q %q", res.Stdout, res.Stderr)
	}
	if got := (<-up.Got).Header.Get("Authorization"); got != "Bearer "+value {
		t.Errorf("upstream got %q", got)
	}

	// The default is no network, and says so.
	plain, err := client.Containers.New(ctx, openai.ContainerNewParams{Name: "plain"})
	if err != nil || plain.NetworkPolicy.Type != "disabled" {
		t.Errorf("default: %v %s", err, plain.RawJSON())
	}
}

func TestContainerNetworkPolicyRefused(t *testing.T) {
	x, err := egress.New(egress.Config{MaxDomains: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := realServer(t, "runc", func(c *sandbox.Config) { c.Egress = x })
	for _, tc := range []struct{ body, want string }{
		{`{"network_policy": {"type": "open"}}`, `network_policy.type: must be \"disabled\" or \"allowlist\"`},
		{`{"network_policy": {"type": "allowlist"}}`, "network_policy.allowed_domains: at least one domain"},
		{`{"network_policy": {"type": "disabled", "allowed_domains": ["a.test"]}}`, "go with"},
		{`{"network_policy": {"type": "allowlist", "allowed_domains": ["169.254.169.254"]}}`, "is not a domain name"},
		{`{"network_policy": {"type": "allowlist", "allowed_domains": ["a.test", "b.test", "c.test"]}}`, "at most 2 domains"},
		{`{"network_policy": {"type": "allowlist", "allowed_domains": ["a.test"], "domain_secrets": [{"domain": "b.test", "name": "K", "value": "v"}]}}`, "not in allowed_domains"},
	} {
		status, _, body := do(t, srv, call{method: "POST", path: "/v1/containers", body: strings.NewReader(tc.body)})
		if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) || !strings.Contains(string(body), `"invalid_request_error"`) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.body, status, body, tc.want)
		}
	}
}

// TestContainerNetworkPolicyWorkspaces: the operator turns allow-lists off for ws1 and
// caps them at 2 domains in ws2; ws1 is refused with 403 naming the limit while ws2
// gets its container, up to its cap.
func TestContainerNetworkPolicyWorkspaces(t *testing.T) {
	x, err := egress.New(egress.Config{Workspaces: map[string]egress.WorkspaceLimit{
		"ws1": {Forbidden: true}, "ws2": {MaxDomains: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := realServer(t, "runc", func(c *sandbox.Config) { c.Egress = x })
	two := `{"network_policy": {"type": "allowlist", "allowed_domains": ["a.test", "b.test"]}}`
	three := `{"network_policy": {"type": "allowlist", "allowed_domains": ["a.test", "b.test", "c.test"]}}`

	status, _, body := do(t, srv, call{method: "POST", path: "/v1/containers", key: "key1", body: strings.NewReader(two)})
	if status != http.StatusForbidden || !strings.Contains(string(body), `"permission_error"`) ||
		!strings.Contains(string(body), "this workspace may not give containers network access") {
		t.Errorf("ws1 allow-list: %d %s, want 403 naming the workspace's limit", status, body)
	}
	// Without an allow-list ws1 still gets containers.
	mustDo(t, srv, call{method: "POST", path: "/v1/containers", key: "key1", body: strings.NewReader(`{"network_policy": {"type": "disabled"}}`)}, http.StatusOK)

	status, _, body = do(t, srv, call{method: "POST", path: "/v1/containers", key: "key2", body: strings.NewReader(three)})
	if status != http.StatusBadRequest || !strings.Contains(string(body), "at most 2 domains in this workspace") {
		t.Errorf("ws2 over its cap: %d %s, want 400 naming the cap", status, body)
	}
	c := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", key: "key2", body: strings.NewReader(two)}, http.StatusOK))
	if c.NetworkPolicy == nil || c.NetworkPolicy.Type != "allowlist" || len(c.NetworkPolicy.AllowedDomains) != 2 {
		t.Errorf("ws2 within its cap: %+v", c.NetworkPolicy)
	}
}
