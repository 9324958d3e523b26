package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/egress"
)

func TestParseEgressWorkspaces(t *testing.T) {
	got, err := parseEgressWorkspaces([]string{"ws_a=off", " ws_b = 3 "})
	want := map[string]egress.WorkspaceLimit{"ws_a": {Forbidden: true}, "ws_b": {MaxDomains: 3}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("= %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range [][]string{{"ws_a"}, {"=3"}, {"ws_a=0"}, {"ws_a=many"}, {"ws_a=1", "ws_a=off"}} {
		if _, err := parseEgressWorkspaces(bad); err == nil || !strings.Contains(err.Error(), "--egress-workspace") {
			t.Errorf("%q: err = %v, want one naming --egress-workspace", bad, err)
		}
	}
	// A malformed entry is refused even with egress off.
	c := egressConfig{Egress: "off", Workspaces: []string{"ws_a"}}
	if _, err := c.proxy(nil); err == nil {
		t.Error("--egress=off with a malformed --egress-workspace: no error")
	}
}
