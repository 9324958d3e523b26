package main

import (
	"os"
	"testing"
)

func TestAdvertiseURL(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag, listen, want string
	}{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", ":8080", "http://" + host + ":8080"},
		{"", "0.0.0.0:9000", "http://" + host + ":9000"},
		{"", "[::]:9000", "http://" + host + ":9000"},
		{"https://node-a.internal:443", ":8080", "https://node-a.internal:443"},
	} {
		got, err := advertiseURL(&clusterConfig{AdvertiseURL: tc.flag}, tc.listen)
		if err != nil || got != tc.want {
			t.Errorf("advertiseURL(%q, %q) = %q, %v; want %q", tc.flag, tc.listen, got, err, tc.want)
		}
	}
	if _, err := advertiseURL(&clusterConfig{}, "no-port"); err == nil {
		t.Error("a --listen without a port gave an advertise URL")
	}
}
