// Package diskspace keeps the data directory's filesystem from filling up: it knows
// its free space, the part kept in reserve for the database and the logs, and the
// space promised to container disks — sparse images whose blocks are only taken as
// the container writes — so that a promise is never broken by an upload, a stored
// output or another disk. A filesystem that fills under a loop-mounted ext4 image
// aborts its journal and loses writes that were reported done; refusing up front is
// the only honest answer.
package diskspace

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/dustin/go-humanize"
	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/errdefs"
)

// Ledger accounts for the free space of one filesystem. The zero of *Ledger (nil)
// admits everything, for servers and tests that do not account.
type Ledger struct {
	dir     string
	reserve int64

	mu       sync.Mutex
	promises map[string]func() int64
}

// New returns a ledger of the filesystem holding dir that keeps reserve bytes free.
func New(dir string, reserve int64) (*Ledger, error) {
	l := &Ledger{dir: dir, reserve: reserve, promises: make(map[string]func() int64)}
	if _, err := l.free(); err != nil {
		return nil, err
	}
	return l, nil
}

// DefaultReserve is what a ledger keeps free of a filesystem of size bytes: a
// twentieth, at least 256 MiB and at most 8 GiB (the kubelet evicts when nodefs has
// less than a tenth free; the server itself needs room for its database and logs).
func DefaultReserve(size int64) int64 {
	return min(max(size/20, 256<<20), 8<<30)
}

// Size returns the total size of the filesystem holding dir.
func Size(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Blocks) * st.Bsize, nil
}

func (l *Ledger) free() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(l.dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", l.dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// availableLocked is the free space less the reserve and every promise but skip's.
func (l *Ledger) availableLocked(skip string) (int64, error) {
	free, err := l.free()
	if err != nil {
		return 0, err
	}
	avail := free - l.reserve
	for k, outstanding := range l.promises {
		if k != skip {
			avail -= max(outstanding(), 0)
		}
	}
	return avail, nil
}

// Check returns ErrFull unless n more bytes fit without breaking a promise or the
// reserve.
func (l *Ledger) Check(n int64) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	avail, err := l.availableLocked("")
	if err != nil {
		return err
	}
	if avail < n {
		return Full(avail, n)
	}
	return nil
}

// Promise records that key may still take outstanding() bytes (a disk image's size
// less what it has allocated, say), or returns ErrFull if that does not fit. A later
// Promise of the same key replaces it; Release ends it.
func (l *Ledger) Promise(key string, outstanding func() int64) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	avail, err := l.availableLocked(key)
	if err != nil {
		return err
	}
	if need := outstanding(); avail < need {
		return Full(avail, need)
	}
	l.promises[key] = outstanding
	return nil
}

// Release ends key's promise.
func (l *Ledger) Release(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.promises, key)
	l.mu.Unlock()
}

// Code is the error code of a refusal for lack of space.
const Code = "insufficient_storage"

// Full is the client's error when n bytes do not fit in the avail left.
func Full(avail, n int64) error {
	return Refuse(fmt.Errorf("%s needed, %s available", humanize.IBytes(uint64(max(n, 0))), humanize.IBytes(uint64(max(avail, 0)))))
}

// Refuse is the client's error for a write the disk had no room for; cause is logged,
// never sent.
func Refuse(cause error) error {
	return &errdefs.Public{Kind: errdefs.ErrInsufficientStorage, Code: Code,
		Message: "the server is out of storage space; try again later or free some space (delete files or containers)", Err: cause}
}

// Wrap turns an ENOSPC or EDQUOT in err into Refuse's error.
func Wrap(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return Refuse(err)
	}
	return err
}
