package agent

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Network access of an allow-listed container. The container has loopback only; the
// agent listens on EgressListenEnv's address there and relays each connection to
// EgressSocketName in SocketDir, where the host's egress proxy, which knows the
// container's allow-list, answers. UserEnvEnv carries the environment user code needs to
// use it (the proxy variables, a trust bundle, secret placeholders).
const (
	EgressSocketName = "egress.sock"
	EgressListenEnv  = "CODEBOX_EGRESS_LISTEN"
	// UserEnvEnv holds newline-separated NAME=value lines added to the environment of
	// every command and of the REPL.
	UserEnvEnv = "CODEBOX_USER_ENV"
)

// setupEgress takes the egress settings out of the agent's environment, adds the
// user's part to commandEnv and starts the relay. It runs before any user code.
func setupEgress() error {
	extra, listen := os.Getenv(UserEnvEnv), os.Getenv(EgressListenEnv)
	os.Unsetenv(UserEnvEnv)
	os.Unsetenv(EgressListenEnv)
	for _, kv := range strings.Split(extra, "\n") {
		if strings.Contains(kv, "=") {
			commandEnv = append(commandEnv, kv)
		}
	}
	if listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go relayEgress(ln, filepath.Join(SocketDir, EgressSocketName))
	return nil
}

// relayEgress copies every connection on ln to and from a new connection to the host's
// socket.
func relayEgress(ln net.Listener, socket string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("unix", socket)
			if err != nil {
				return
			}
			defer up.Close()
			go func() {
				io.Copy(up, c)
				up.(*net.UnixConn).CloseWrite()
			}()
			// The proxy's side ending ends the connection (and with it the copy
			// above), so that a client that never closes holds nothing here.
			io.Copy(c, up)
		}()
	}
}
