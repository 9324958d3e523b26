package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/codebox-dev/codebox/internal/testenv"
)

// TestLoopMountBurst: many disks attached and mounted at once, as a burst of creates
// does, each get a loop device of their own. Between LOOP_CTL_GET_FREE and
// LOOP_CONFIGURE the free device is anyone's: unserialized, concurrent mounts raced for
// it and some failed with EBUSY.
func TestLoopMountBurst(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "mkfs.ext4")
	dir := t.TempDir()
	const size = 16 << 20
	tmpl := filepath.Join(dir, "template.img")
	f, err := os.Create(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", tmpl).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	const disks, rounds = 40, 4
	errs := make(chan error, disks)
	var wg sync.WaitGroup
	for i := range disks {
		img, mnt := filepath.Join(dir, fmt.Sprintf("%d.img", i)), filepath.Join(dir, fmt.Sprintf("mnt%d", i))
		if err := copySparse(tmpl, img, size); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range rounds {
				if err := loopMount(img, mnt); err != nil {
					errs <- fmt.Errorf("disk %d, round %d: %w", i, round, err)
					return
				}
				if err := syscall.Unmount(mnt, 0); err != nil {
					errs <- fmt.Errorf("disk %d, round %d: unmount: %w", i, round, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
