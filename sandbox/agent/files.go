package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Filesystem magic numbers the agent refuses to read or write through: procfs would
// expose the agent's own memory and environment, sysfs the kernel's knobs.
const (
	procMagic  = 0x9fa0
	sysfsMagic = 0x62656572
)

// resolve turns a request path into a clean absolute container path.
func resolve(unsafePath string) (string, error) {
	if unsafePath == "" || strings.IndexByte(unsafePath, 0) >= 0 {
		return "", errString("invalid path")
	}
	p := unsafePath
	if !filepath.IsAbs(p) {
		p = filepath.Join(WorkDir, p)
	}
	return filepath.Clean(p), nil
}

// checkFile refuses anything but a regular file on an ordinary filesystem.
func checkFile(f *os.File) (os.FileInfo, error) {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Type == procMagic || st.Type == sysfsMagic {
		return nil, errString("path is not allowed")
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return fi, errIsDir
	}
	if !fi.Mode().IsRegular() {
		return nil, errString("not a regular file")
	}
	return fi, nil
}

var errIsDir = errors.New("is a directory")

func failFile(c *conn, err error) {
	switch {
	case errors.Is(err, errIsDir), errors.Is(err, syscall.EISDIR):
		c.send(&Event{Type: EventError, ErrorKind: KindIsDir, Error: "path is a directory"})
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		c.send(&Event{Type: EventError, ErrorKind: KindNotFound, Error: "no such file"})
	case errors.Is(err, errCrossesMount):
		c.send(&Event{Type: EventError, ErrorKind: KindInvalid, Error: errCrossesMount.Error()})
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		c.send(&Event{Type: EventError, ErrorKind: KindTooLarge, Error: "no space left on the container's disk"})
	default:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		c.send(&Event{Type: EventError, ErrorKind: KindInvalid, Error: err.Error()})
	}
}

func readFile(c *conn, req *Request) {
	p, err := resolve(req.Path)
	if err != nil {
		failFile(c, err)
		return
	}
	max := req.MaxBytes
	if max <= 0 || max > MaxFileBytes {
		max = MaxFileBytes
	}
	// O_NONBLOCK: opening a FIFO must not hang the agent.
	f, err := openFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		failFile(c, err)
		return
	}
	defer f.Close()
	fi, err := checkFile(f)
	if errors.Is(err, errIsDir) {
		c.send(&Event{Type: EventFile, IsDir: true})
		return
	}
	if err != nil {
		failFile(c, err)
		return
	}
	if fi.Size() > max {
		c.send(&Event{Type: EventError, ErrorKind: KindTooLarge, Size: fi.Size(),
			Error: fmt.Sprintf("file is %d bytes, the limit is %d", fi.Size(), max)})
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		failFile(c, err)
		return
	}
	if int64(len(data)) > max {
		c.send(&Event{Type: EventError, ErrorKind: KindTooLarge, Error: "file grew past the limit"})
		return
	}
	c.send(&Event{Type: EventFile, Data: data, Size: int64(len(data))})
}

func writeFile(c *conn, req *Request) {
	p, err := resolve(req.Path)
	if err != nil {
		failFile(c, err)
		return
	}
	if len(req.Data) > MaxFileBytes {
		c.send(&Event{Type: EventError, ErrorKind: KindTooLarge, Error: "file too large"})
		return
	}
	if err := mkdirAll(filepath.Dir(p)); err != nil {
		failFile(c, err)
		return
	}
	existed := true
	f, err := openFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		existed = false
		f, err = openFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NONBLOCK, 0o644)
	}
	if err != nil {
		failFile(c, err)
		return
	}
	defer f.Close()
	if _, err := checkFile(f); err != nil {
		failFile(c, err)
		return
	}
	if err := f.Truncate(0); err != nil {
		failFile(c, err)
		return
	}
	if _, err := f.Write(req.Data); err != nil {
		failFile(c, err)
		return
	}
	if err := f.Close(); err != nil {
		failFile(c, err)
		return
	}
	c.send(&Event{Type: EventOK, Existed: existed})
}
