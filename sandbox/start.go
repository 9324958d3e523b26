package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

func (m *Manager) acquireStart(ctx context.Context) error {
	select {
	case m.starts <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (m *Manager) releaseStart() { <-m.starts }

// startLocked starts the container and waits for its agent. The caller holds sem.
func (m *Manager) startLocked(ctx context.Context, inst *instance) error {
	if inst.running {
		return nil
	}
	inst.mu.Lock()
	ws := inst.c.Workspace
	inst.mu.Unlock()
	if err := m.admit(ctx, inst, ws, true); err != nil {
		return err
	}
	if err := m.acquireStart(ctx); err != nil {
		m.unadmit(inst)
		return err
	}
	defer m.releaseStart()
	if err := m.bootLocked(ctx, inst); err != nil {
		m.unadmit(inst)
		return err
	}
	return nil
}

// bootLocked is startLocked within the start limit. The caller holds sem and a start.
func (m *Manager) bootLocked(ctx context.Context, inst *instance) error {
	if inst.running {
		return nil
	}
	if err := m.mountLocked(ctx, inst); err != nil {
		return err
	}
	if err := m.ensureIDs(inst); err != nil {
		return err
	}
	if err := repairTmp(inst.mntDir()); err != nil {
		return err
	}
	if err := ensureSkillsDir(inst.mntDir()); err != nil {
		return err
	}
	if m.restoreLocked(ctx, inst) {
		return nil
	}
	// A container the runtime still holds (stopped, or left from a crash) goes first.
	if _, err := os.Stat(filepath.Join(inst.bundleDir(), "config.json")); err == nil {
		if err := m.rt.Delete(ctx, inst.id); err != nil {
			return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
		}
	}
	// The agent's socket directory must be writable by the container's root, and a
	// stale socket must not be mistaken for a live agent.
	os.Remove(filepath.Join(inst.runDir(), agent.SocketName))
	if err := os.Mkdir(inst.runDir(), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := os.Chown(inst.runDir(), int(inst.hostID), int(inst.hostID)); err != nil {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	if err := os.WriteFile(inst.tokenPath(), []byte(token), 0o600); err != nil {
		return err
	}
	env := []string{agent.TokenEnv + "=" + token}
	if m.cfg.Prefork {
		env = append(env, agent.PreforkEnv+"=1")
	}
	if m.cfg.PythonWarmup != "" {
		env = append(env, agent.WarmupEnv+"="+m.cfg.PythonWarmup)
	}
	inst.mu.Lock()
	image, limits := inst.c.Image, m.cfg.Limits
	if inst.c.MemoryLimit > 0 {
		limits.Memory = inst.c.MemoryLimit
	}
	inst.mu.Unlock()
	rootfs, err := m.rootFS(image)
	if err != nil {
		return err
	}
	netEnv, err := m.openEgress(inst, rootfs)
	if err != nil {
		return err
	}
	env = append(env, netEnv...)
	spec := &ContainerSpec{
		ID: inst.id, BundleDir: inst.bundleDir(), RootFS: rootfs,
		Agent: m.cfg.Agent, AgentArgs: m.cfg.AgentArgs, RunDir: inst.runDir(),
		WorkspaceDir: filepath.Join(inst.mntDir(), "workspace"), TmpDir: filepath.Join(inst.mntDir(), "tmp"),
		SkillsDir: filepath.Join(inst.mntDir(), skillsDir),
		Env:       env, Limits: limits, HostID: inst.hostID,
	}
	began := time.Now()
	if err := m.rt.Start(ctx, spec); err != nil {
		inst.closeEgress()
		return withCause(ctx, err)
	}
	started := time.Now()
	client := &agent.Client{Socket: filepath.Join(inst.runDir(), agent.SocketName), Token: token}
	err = waitAgent(ctx, client)
	m.logger.Debug("container started", "container", inst.id, "runtime", started.Sub(began), "agent", time.Since(started))
	if err != nil {
		m.rt.Delete(context.WithoutCancel(ctx), inst.id)
		inst.closeEgress()
		log, _ := os.ReadFile(filepath.Join(inst.bundleDir(), "init.log"))
		return withCause(ctx, fmt.Errorf("%w: container agent did not start: %w: %s", errdefs.ErrUnavailable, err, tailString(log, 1024)))
	}
	if err := lockRunDir(inst); err != nil {
		return err
	}
	inst.client, inst.running = client, true
	return nil
}

// lockRunDir gives the agent's socket directory to the host's root once the socket is
// bound, so that nothing in the container can replace the socket with its own listener.
func lockRunDir(inst *instance) error {
	if err := os.Chown(inst.runDir(), 0, 0); err != nil {
		return err
	}
	return os.Chmod(inst.runDir(), 0o755)
}

// withCause adds ctx's cause to err when ctx has ended, so that a client's cancel is
// told apart from a failure of the runtime however deep it struck (a killed runc, an
// agent wait cut short).
func withCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}

func tailString(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// waitAgent polls until the agent answers.
func waitAgent(ctx context.Context, c *agent.Client) error {
	ctx, cancel := context.WithTimeout(ctx, agentReadyTimeout)
	defer cancel()
	// Failed connects cost microseconds; a tight poll finds the agent as it starts.
	const delay = time.Millisecond
	for {
		err := c.Ping(ctx)
		if err == nil {
			return nil
		}
		var ae *agent.Error
		if errors.As(err, &ae) {
			return err // it answered, and refused
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", context.Cause(ctx), err)
		case <-time.After(delay):
		}
	}
}
