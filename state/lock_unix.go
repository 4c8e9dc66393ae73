//go:build unix

package state

import (
	"errors"
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
