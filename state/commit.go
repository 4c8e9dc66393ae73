package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/politely/politely/source"
)

// batch is what changed since the last commit.
type batch struct {
	updates  int
	done     map[source.Cursor][]int // items done beyond the mark, by page; may repeat an index
	drop     []string                // pageKeys of marked pages whose done records are in the db
	mark     source.Cursor
	marks    int64 // the store's Mark calls, when marked
	marked   bool
	counters map[string]int64 // nil: unchanged
	finished bool
}

func (b *batch) reset() { *b = batch{done: map[source.Cursor][]int{}} }

func (b *batch) empty() bool {
	return b.updates == 0 && b.counters == nil && !b.finished
}

// Done records that item index of page is done while an earlier item is
// not (engine.Checkpointer). It is idempotent: an item that Journal.Append
// recorded may be recorded again.
func (s *Store) Done(page source.Cursor, index int) error {
	if index < 0 || int64(index) > 1<<32-1 {
		return fmt.Errorf("state: Done: index %d of page %q out of range", index, page)
	}
	s.mu.Lock()
	if s.err != nil {
		defer s.mu.Unlock()
		return s.err
	}
	s.batch.done[page] = append(s.batch.done[page], index)
	s.updatedLocked()
	s.mu.Unlock()
	return nil
}

// Mark records that every item of page, and of the pages before it, is done,
// so a resumed run starts at next (engine.Checkpointer).
func (s *Store) Mark(page, next source.Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	delete(s.batch.done, page)
	if len(s.stored) > 0 {
		if k := string(pageKey(page)); s.stored[k] {
			delete(s.stored, k)
			s.batch.drop = append(s.batch.drop, k)
		}
	}
	s.marks++
	s.batch.mark, s.batch.marks, s.batch.marked = next, s.marks, true
	s.updatedLocked()
	return nil
}

// updatedLocked counts an update and wakes the committer when the batch is
// full. The caller holds s.mu.
func (s *Store) updatedLocked() {
	s.batch.updates++
	if s.batch.updates == s.o.every {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// wakeWriter tells the committer goroutine that a journal buffer waits to
// be written. The caller holds s.mu.
func (s *Store) wakeWriter() {
	select {
	case s.write <- struct{}{}:
	default:
	}
}

// loop commits every interval, and whenever a batch fills up, until Close;
// in between it writes out the journal's full buffers.
func (s *Store) loop() {
	t := s.o.clock.NewTicker(s.o.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.write:
			s.mu.Lock()
			j := s.journal
			s.mu.Unlock()
			if err := j.writeOut(); err != nil {
				// Sticky, as a commit's.
				s.o.log.Debug("state journal write failed", zap.Error(err))
			}
			continue
		case <-s.kick:
		case <-t.Chan():
		}
		if err := s.Commit(); err != nil {
			// Sticky: the next Append, Done or Mark returns it to the run.
			s.o.log.Debug("state commit failed", zap.Error(err))
		}
	}
}

// Commit commits what changed since the last commit, now: it writes the
// journal's buffered lines, fsyncs its files, then commits one bbolt
// transaction with the done records, the mark and the number of marks, the
// files' offsets, the counters (SetCountersFunc) and the finished flag. Group commits call it; a caller needs it
// only to bound what a crash loses at a moment of its choosing.
//
// A failure is sticky: every later call to the store returns it, and the
// state keeps its last commit.
func (s *Store) Commit() error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	c, err := s.prepare()
	if err != nil || c == nil {
		return err
	}
	if err := c.sync(); err != nil {
		return s.fail(err)
	}
	if err := s.apply(c); err != nil {
		return err
	}
	if s.o.after != nil {
		s.o.after()
	}
	return nil
}

// commit is one commit under way: the batch and the files' lengths taken
// together. The phases are separate so that tests can stop between them.
type commit struct {
	b     batch
	j     *Journal // nil when the store has none
	files []fileState
}

// prepare takes the batch and the files' lengths in one step, under the lock
// that Append holds while it appends a line and records its item: so the
// bytes below each offset are exactly the lines of the items in this commit
// and the ones before it. It returns nil when nothing changed. The caller
// holds commitMu.
func (s *Store) prepare() (*commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	c := &commit{b: s.batch, j: s.journal}
	s.batch.reset()
	for page := range c.b.done {
		s.stored[string(pageKey(page))] = true
	}
	if s.journal != nil {
		c.files = s.journal.takeLocked()
	}
	if s.counters != nil {
		counters, err := takeCounters(s.counters)
		if err != nil {
			return nil, s.failLocked(err)
		}
		if !maps.Equal(counters, s.counted) {
			c.b.counters, s.counted = counters, counters
		}
	}
	if c.b.empty() && !slices.ContainsFunc(c.files, func(f fileState) bool { return f.changed }) {
		return nil, nil
	}
	return c, nil
}

// takeCounters calls fn and checks what it returned.
func takeCounters(fn func() map[string]int64) (map[string]int64, error) {
	c := fn()
	if _, ok := c[""]; ok {
		return nil, errors.New("state: counters: empty counter name")
	}
	return maps.Clone(c), nil
}

// sync writes out the journal's lines that prepare took, and fsyncs the
// files that grew. Lines appended after prepare may be written and synced
// too: the state does not count them, and a resume truncates them.
func (c *commit) sync() error {
	if c.j != nil {
		if err := c.j.writeOut(); err != nil {
			return err
		}
	}
	for _, f := range c.files {
		if f.changed {
			if err := f.file.Sync(); err != nil {
				return fmt.Errorf("state: fsync %s: %w", f.path, err)
			}
		}
	}
	return nil
}

// apply commits c in one bbolt transaction. The caller holds commitMu.
func (s *Store) apply(c *commit) error {
	err := guard(func() error { return s.db.Update(func(tx *bolt.Tx) error { return write(tx, &c.b, c.files) }) })
	if err != nil {
		return s.fail(fmt.Errorf("state: commit %s: %w", s.path, err))
	}
	if c.j != nil {
		c.j.committed(c.files)
	}
	return nil
}

// fail records err as the store's sticky error and returns the sticky one.
func (s *Store) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failLocked(err)
}

// write applies b and the files' lengths to the state in tx.
func write(tx *bolt.Tx, b *batch, files []fileState) error {
	done := tx.Bucket(bucketDone)
	for _, k := range b.drop {
		if err := done.DeleteBucket([]byte(k)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return fmt.Errorf("drop done records of page %q: %w", k[1:], err)
		}
	}
	for page, idx := range b.done {
		pb, err := done.CreateBucketIfNotExists(pageKey(page))
		if err != nil {
			return fmt.Errorf("done records of page %q: %w", page, err)
		}
		for _, i := range idx {
			// bbolt keeps keys and values until the commit: one slice each.
			if err := pb.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), nil); err != nil {
				return fmt.Errorf("done record %d of page %q: %w", i, page, err)
			}
		}
	}
	meta := tx.Bucket(bucketMeta)
	if b.marked {
		if err := meta.Put(keyMark, []byte(b.mark)); err != nil {
			return fmt.Errorf("mark: %w", err)
		}
		if err := meta.Put(keyMarks, binary.BigEndian.AppendUint64(nil, uint64(b.marks))); err != nil {
			return fmt.Errorf("marks: %w", err)
		}
	}
	if b.finished {
		if err := meta.Put(keyFinished, []byte{1}); err != nil {
			return fmt.Errorf("finished flag: %w", err)
		}
	}
	fb := tx.Bucket(bucketFiles)
	for _, f := range files {
		rec := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(f.offset)), uint64(f.lines))
		if err := fb.Put([]byte(f.name), rec); err != nil {
			return fmt.Errorf("offset of %s: %w", f.name, err)
		}
	}
	if b.counters != nil {
		if err := tx.DeleteBucket(bucketCounters); err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		cb, err := tx.CreateBucket(bucketCounters)
		if err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		for name, n := range b.counters {
			if err := cb.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
				return fmt.Errorf("counter %s: %w", name, err)
			}
		}
	}
	return nil
}

// pageKey is the name of page's bucket of done records: "p" and the cursor,
// or "h" and its SHA-256 when the cursor (a next-page URL, say) is too long
// to be a bbolt key.
func pageKey(page source.Cursor) []byte {
	if len(page) > maxCursorKey {
		h := sha256.Sum256([]byte(page))
		return append([]byte{'h'}, h[:]...)
	}
	return append([]byte{'p'}, page...)
}

const maxCursorKey = 1024
