//go:build !unix

package state

import "os"

// tryLock does not lock where flock is missing: bbolt locks differently
// there, and Reset relies on the OS refusing to delete a file in use.
func tryLock(*os.File) error { return nil }

// syncDir does nothing where a directory cannot be opened for fsync.
func syncDir(string) error { return nil }
