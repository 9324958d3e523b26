package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// Every container has its own user namespace mapping its IDs 0 to IDRangeSize-1 onto a
// host range no other container of this server uses (see oci.WithUserNamespace). The
// range is recorded in the container's directory, so it survives stops, server
// restarts and re-adoption, and its disk's files stay owned by the same host IDs.
const (
	// IDRangeSize is how many user and group IDs each container maps, as many as a
	// Debian system uses and the size Kubernetes gives each pod.
	IDRangeSize = 1 << 16
	// DefaultIDBase is the first host ID of the container ranges: far above real
	// accounts (and Debian's /etc/subuid ranges, which start at 100000).
	DefaultIDBase = 1 << 30
	// maxHostID bounds the ranges below the IDs that programs read as negative.
	maxHostID = 1 << 31
	// UserID is the user (and group) code runs as inside a container.
	UserID = agent.UserID
	// legacyUserID is the host ID the user had before containers had user namespaces.
	legacyUserID = 1000
)

// idRanges hands out host ID ranges to containers.
type idRanges struct {
	base, n uint32

	mu   sync.Mutex
	used map[uint32]string // first host ID → container ID
}

func newIDRanges(base uint32) (*idRanges, error) {
	if base < IDRangeSize || base%IDRangeSize != 0 || uint64(base)+IDRangeSize > maxHostID {
		return nil, fmt.Errorf("sandbox: ID base %d: must be a multiple of %d from %d to %d", base, IDRangeSize, IDRangeSize, maxHostID-IDRangeSize)
	}
	return &idRanges{base: base, n: (maxHostID - base) / IDRangeSize, used: make(map[uint32]string)}, nil
}

// claim records that container id uses the range at host.
func (r *idRanges) claim(id string, host uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.used[host] = id
}

// alloc returns a free range for container id, the lowest one.
func (r *idRanges) alloc(id string) (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.n {
		host := r.base + i*IDRangeSize
		if _, ok := r.used[host]; !ok {
			r.used[host] = id
			return host, nil
		}
	}
	return 0, errdefs.New(errdefs.ErrUnavailable, "", "no free user ID range for a new container")
}

// release frees the range of container id.
func (r *idRanges) release(id string, host uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used[host] == id {
		delete(r.used, host)
	}
}

// idmapPath is where a container's first host ID is recorded.
func (inst *instance) idmapPath() string { return filepath.Join(inst.dir, "idmap") }

// loadHostID reads the container's recorded range; zero if it has none yet.
func (inst *instance) loadHostID() (uint32, error) {
	b, err := os.ReadFile(inst.idmapPath())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("container %s: bad idmap %q", inst.id, b)
	}
	return uint32(v), nil
}

// hostUser is the host ID of the container's user: its files on the disk are owned by it.
func (inst *instance) hostUser() int {
	if inst.hostID == 0 {
		return legacyUserID
	}
	return int(inst.hostID) + UserID
}

// assignIDs gives the container a host ID range if it has none and records it. The
// caller holds sem.
func (m *Manager) assignIDs(inst *instance) error {
	if inst.hostID == 0 {
		host, err := m.ids.alloc(inst.id)
		if err != nil {
			return err
		}
		if err := os.WriteFile(inst.idmapPath(), []byte(strconv.FormatUint(uint64(host), 10)+"\n"), 0o600); err != nil {
			m.ids.release(inst.id, host)
			return err
		}
		inst.hostID = host
	}
	return nil
}

// ensureIDs gives the container a range if it has none (it was made before containers
// had user namespaces) and makes its disk's files owned by that range. The caller holds
// sem and has mounted the disk.
func (m *Manager) ensureIDs(inst *instance) error {
	if err := m.assignIDs(inst); err != nil {
		return err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(inst.mntDir(), "workspace"), &st); err != nil {
		return err
	}
	if want := uint32(inst.hostUser()); st.Uid != want {
		// The user's files were another range's (before user namespaces, the host's
		// own IDs): shift the whole disk to this range.
		from := uint32(0)
		if st.Uid >= UserID {
			from = st.Uid - UserID
		}
		m.logger.Info("moving container disk to its user ID range", "container", inst.id, "from", from, "to", inst.hostID)
		return shiftOwners(inst.mntDir(), from, inst.hostID)
	}
	return nil
}

// shiftOwners moves the owner and group of every file under dir from the range at
// from to the range at to. IDs outside the old range become the new range's nobody.
func shiftOwners(dir string, from, to uint32) error {
	shift := func(id uint32) int {
		if id >= from && id-from < IDRangeSize {
			return int(to + id - from)
		}
		return int(to + IDRangeSize - 2) // 65534, nobody
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		if p == dir {
			return nil // the disk's root stays the host's
		}
		return os.Lchown(p, shift(st.Uid), shift(st.Gid))
	})
}
