package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/politely/politely/source"
)

// schemaVersion is the layout of the buckets below; a state with another
// version is refused rather than misread.
const schemaVersion = "1"

// The layout: meta holds the version, the fingerprint, the mark (the cursor
// to resume at; absent before the first page is marked), the number of Mark
// calls (8 bytes; absent before the first) and the finished flag; files maps a journal file's name to its committed offset and line
// count (16 bytes); counters maps a name to a value (8 bytes); done holds
// one bucket per page ("p" + cursor, since a bucket name cannot be empty)
// whose keys are the indexes (4 bytes) of its items done beyond the mark.
var (
	bucketMeta     = []byte("meta")
	bucketFiles    = []byte("files")
	bucketCounters = []byte("counters")
	bucketDone     = []byte("done")

	keyVersion     = []byte("version")
	keyFingerprint = []byte("fingerprint")
	keyMark        = []byte("mark")
	keyMarks       = []byte("marks")
	keyFinished    = []byte("finished")
)

// Resume is what an earlier run committed: where a resumed run starts and
// what it skips. The zero value (Resumed false) is a fresh state.
type Resume struct {
	Resumed  bool          // the state existed when Open was called
	Finished bool          // the earlier run finished: nothing is left to do
	Cursor   source.Cursor // start the source here (source.WithCursor); "" is the beginning
	Marks    int64         // Mark calls committed: with the engine, the pages with items wholly done before Cursor
	Offsets  map[string]int64
	Lines    map[string]int64 // lines below each file's committed offset
	Counters map[string]int64 // as SetCountersFunc's function last returned them to a commit

	done map[string]map[int]struct{} // by pageKey
}

// IsDone reports whether item index of page was done beyond the mark: a
// resumed run skips it (engine.Job.WithSkip).
func (r Resume) IsDone(page source.Cursor, index int) bool {
	_, ok := r.done[string(pageKey(page))][index]
	return ok
}

// DoneCount is the number of items done beyond the mark.
func (r Resume) DoneCount() int {
	n := 0
	for _, p := range r.done {
		n += len(p)
	}
	return n
}

// panicError is a panic recovered from bbolt reading a damaged file.
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.v) }

// guard runs fn, turning a panic, or a memory fault on bbolt's map of a
// truncated file, into a *panicError.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v}
		}
	}()
	return fn()
}

// load checks the state's version and fingerprint (writing both into a
// fresh state) and reads what a run
// resumes from, with the pages that have done records.
func load(db *bolt.DB, path, fingerprint string) (Resume, map[string]bool, error) {
	var res Resume
	stored := map[string]bool{}
	err := guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			got := string(meta.Get(keyFingerprint))
			if got == "" {
				for _, kv := range [][2][]byte{{keyVersion, []byte(schemaVersion)}, {keyFingerprint, []byte(fingerprint)}} {
					if err := meta.Put(kv[0], kv[1]); err != nil {
						return err
					}
				}
				for _, b := range [][]byte{bucketFiles, bucketCounters, bucketDone} {
					if _, err := tx.CreateBucketIfNotExists(b); err != nil {
						return err
					}
				}
				return nil
			}
			if v := string(meta.Get(keyVersion)); v != schemaVersion {
				return fmt.Errorf("%w: layout version %q, this program reads %q", ErrCorrupt, v, schemaVersion)
			}
			if got != fingerprint {
				return &MismatchError{Path: path, Stored: got, Given: fingerprint}
			}
			res.Resumed = true
			return res.read(tx, stored)
		})
	})
	var pe *panicError
	var me *MismatchError
	switch {
	case err == nil:
		return res, stored, nil
	case errors.As(err, &me):
		return Resume{}, nil, err
	case errors.As(err, &pe), errors.Is(err, ErrCorrupt):
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return Resume{}, nil, fmt.Errorf("state: %s: %w", path, err)
	default:
		return Resume{}, nil, fmt.Errorf("state: read %s: %w", path, err)
	}
}

// read fills r from a state written by an earlier run, and stored with the
// keys of the pages that have done records.
func (r *Resume) read(tx *bolt.Tx, stored map[string]bool) error {
	meta := tx.Bucket(bucketMeta)
	r.Cursor = source.Cursor(meta.Get(keyMark))
	r.Finished = meta.Get(keyFinished) != nil
	if v := meta.Get(keyMarks); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("%w: marks: %d bytes, want 8", ErrCorrupt, len(v))
		}
		if r.Marks = int64(binary.BigEndian.Uint64(v)); r.Marks < 0 {
			return fmt.Errorf("%w: marks: %d", ErrCorrupt, r.Marks)
		}
	}
	buckets := map[string]*bolt.Bucket{}
	for _, name := range [][]byte{bucketFiles, bucketCounters, bucketDone} {
		b := tx.Bucket(name)
		if b == nil {
			return fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, name)
		}
		buckets[string(name)] = b
	}
	r.Offsets, r.Lines = map[string]int64{}, map[string]int64{}
	err := buckets["files"].ForEach(func(k, v []byte) error {
		if len(v) != 16 {
			return fmt.Errorf("%w: file %q: record of %d bytes, want 16", ErrCorrupt, k, len(v))
		}
		off, lines := int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
		if off < 0 || lines < 0 || lines > off {
			return fmt.Errorf("%w: file %q: offset %d with %d lines", ErrCorrupt, k, off, lines)
		}
		r.Offsets[string(k)], r.Lines[string(k)] = off, lines
		return nil
	})
	if err != nil {
		return err
	}
	r.Counters = map[string]int64{}
	err = buckets["counters"].ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: counter %q: %d bytes, want 8", ErrCorrupt, k, len(v))
		}
		r.Counters[string(k)] = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return err
	}
	r.done = map[string]map[int]struct{}{}
	return buckets["done"].ForEachBucket(func(k []byte) error {
		if len(k) == 0 || (k[0] != 'p' && k[0] != 'h') {
			return fmt.Errorf("%w: done bucket %q", ErrCorrupt, k)
		}
		set := map[int]struct{}{}
		err := buckets["done"].Bucket(k).ForEach(func(i, _ []byte) error {
			if len(i) != 4 {
				return fmt.Errorf("%w: done index of page %q: %d bytes, want 4", ErrCorrupt, k[1:], len(i))
			}
			set[int(binary.BigEndian.Uint32(i))] = struct{}{}
			return nil
		})
		r.done[string(k)] = set
		stored[string(k)] = true
		return err
	})
}
