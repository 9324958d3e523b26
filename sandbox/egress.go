package sandbox

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// egressBundle is the trust bundle (the image's roots plus the container's egress CA)
// in the run directory.
const egressBundle = "egress-ca.pem"

// openEgress starts the proxy of a container with an allow-list and returns the
// agent's environment for it; a container without one gets nothing. The caller holds
// sem and closes inst.egress if the start fails.
func (m *Manager) openEgress(inst *instance, rootfs string) ([]string, error) {
	inst.closeEgress()
	inst.mu.Lock()
	policy := inst.c.NetworkPolicy
	inst.mu.Unlock()
	if !policy.Enabled() {
		return nil, nil
	}
	// The agent, which relays to the socket, is the user namespace's root, or runs as
	// agent.UserID without one.
	owner := int(inst.hostID)
	if owner == 0 {
		owner = agent.UserID
	}
	s, err := m.cfg.Egress.Open(egress.OpenOptions{
		Policy: policy,
		Socket: filepath.Join(inst.runDir(), agent.EgressSocketName), UID: owner, GID: owner,
		CAKey:  filepath.Join(inst.dir, "egress-ca.key"),
		Bundle: filepath.Join(inst.runDir(), egressBundle), BundleInContainer: path.Join(agent.SocketDir, egressBundle),
		RootFS: rootfs,
	})
	if err != nil {
		return nil, err
	}
	inst.egress = s
	return []string{agent.EgressListenEnv + "=" + egress.ListenAddr, agent.UserEnvEnv + "=" + strings.Join(s.Env(), "\n")}, nil
}
