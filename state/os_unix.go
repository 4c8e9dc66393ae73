//go:build unix

package state

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// tryLock takes the lock bbolt takes on a state file (flock, exclusive), or
// fails with ErrInUse at once.
func tryLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrInUse
	}
	return err
}

// syncDir fsyncs a directory, so that a file just created in it survives a
// power loss; fsyncing the file does not make its name durable.
// Filesystems that cannot sync a directory are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("state: sync directory %s: %w", dir, err)
	}
	return nil
}
