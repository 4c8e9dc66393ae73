// Package state keeps a crawl's progress in an embedded bbolt store.
//
// A Store holds what a run needs to resume after a crash: the source cursor
// after the last page whose items are all done (engine's Mark), the items
// done since (engine's Done), the committed length and line count of each
// file a Journal appends to, how many pages were marked, the caller's
// counters, the fingerprint of the config that wrote it, and whether the run
// finished.
//
// Changes are batched and committed together ("group commit") every
// CommitEvery updates or CommitInterval, whichever comes first, and on
// Commit, Finish and Close. A commit writes the journal's buffered lines,
// fsyncs the files, and only then commits the bbolt transaction that counts
// them, so the state never counts a byte that is not on disk. Recording an
// item as done and appending its line are one step (Journal.Append) with
// respect to commits, so the lines below a committed offset are exactly
// those of the items the same commit records as done. On resume the files
// are truncated to the committed offsets, dropping a partial line and
// anything not committed, and the work after them is done again. The
// caller's counters (SetCountersFunc) are taken in the same step as the
// lines, so a crash right after a commit leaves counters exactly as fresh
// as the lines it counted.
//
// Most callers want Open, Resume, OpenJournal, then engine.WithCheckpoint(s),
// Journal.Append from the handler, and Finish or Close at the end.
package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
)

// FileName is the name of the bbolt file inside a state directory.
const FileName = "state.db"

// Defaults of the options.
const (
	DefaultCommitEvery    = 1000                   // updates (Append, Done, Mark) between group commits
	DefaultCommitInterval = 250 * time.Millisecond // longest time an update waits for its commit
	DefaultLockTimeout    = time.Second            // how long Open waits for another process's lock
)

// ErrInUse is wrapped by Open's error when another process (or another
// Store in this one) holds the state.
var ErrInUse = errors.New("state is in use by another process")

// ErrCorrupt is wrapped by Open's error when the state file cannot be read:
// it is corrupted or truncated. Reset starts over.
var ErrCorrupt = errors.New("state file is corrupted or truncated")

// ErrClosed is returned by the methods of a closed Store.
var ErrClosed = errors.New("state is closed")

// MismatchError is Open's error when the state was written for a config with
// another fingerprint: resuming it would mix two different crawls.
type MismatchError struct {
	Path   string // the state file
	Stored string // the fingerprint in the state
	Given  string // the fingerprint Open was given
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("state %s was written for another config (fingerprint %s, this config %s)",
		e.Path, short(e.Stored), short(e.Given))
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12] + "…"
	}
	return fp
}

// Option configures a Store.
type Option func(*options)

type options struct {
	every    int
	interval time.Duration
	lock     time.Duration
	clock    clockwork.Clock
	log      *zap.Logger
	maxSize  int // bbolt's MaxSize; set by tests to provoke a full store
	after    func()
}

// WithCommitEvery sets how many updates (Append, Done, Mark calls) trigger a
// group commit; default DefaultCommitEvery.
func WithCommitEvery(n int) Option { return func(o *options) { o.every = n } }

// WithCommitInterval sets the longest time between an update and its
// commit; default DefaultCommitInterval. It bounds the work a crash loses.
func WithCommitInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithLockTimeout sets how long Open waits for a state held by another
// process before failing with ErrInUse; default DefaultLockTimeout.
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lock = d } }

// WithClock sets the clock of the commit interval; default
// clockwork.NewRealClock().
func WithClock(c clockwork.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger; default zap.NewNop().
func WithLogger(l *zap.Logger) Option { return func(o *options) { o.log = l } }

// WithAfterCommit calls fn after each commit that wrote something, from the
// committing goroutine, before any other commit can start: the state file
// and the journal's files below their committed offsets are then exactly
// what a crash right after this commit would leave, e.g. to copy them. Lines
// appended meanwhile may follow the offsets, as after a crash. fn must not
// call Commit, Finish or Close.
func WithAfterCommit(fn func()) Option { return func(o *options) { o.after = fn } }

// Store is a crawl's progress, kept in dir/state.db. It implements
// engine.Checkpointer. Get one from Open; it is safe for concurrent use, and
// must be closed with Close (or Finish then Close).
type Store struct {
	path  string
	db    *bolt.DB
	o     options
	start Resume

	commitMu sync.Mutex // one commit at a time; taken before mu

	mu       sync.Mutex
	batch    batch
	stored   map[string]bool // pageKeys of the pages with done records in the db (or in a commit under way)
	journal  *Journal
	marks    int64                   // Mark calls, those of earlier runs included
	counters func() map[string]int64 // nil: none kept
	counted  map[string]int64        // the counters of the last commit that took them
	err      error                   // sticky: the first write or commit error, or ErrClosed
	closing  bool

	kick  chan struct{}
	write chan struct{} // a journal buffer waits to be written (see Journal)
	stop  chan struct{}
	wg    sync.WaitGroup
}

// Open opens the state in dir, creating dir and the state when they do not
// exist. fingerprint identifies the config: a state written with another one
// is refused with a *MismatchError. A state held by another process is
// refused with an error wrapping ErrInUse once the lock timeout passes, and
// an unreadable one with an error wrapping ErrCorrupt. Every error names the
// path.
func Open(dir, fingerprint string, opts ...Option) (*Store, error) {
	o := options{every: DefaultCommitEvery, interval: DefaultCommitInterval, lock: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case dir == "":
		return nil, errors.New("state: directory is empty")
	case fingerprint == "":
		return nil, errors.New("state: fingerprint is empty")
	case o.every < 1:
		return nil, fmt.Errorf("state: WithCommitEvery must be at least 1, got %d", o.every)
	case o.interval <= 0:
		return nil, fmt.Errorf("state: WithCommitInterval must be positive, got %v", o.interval)
	case o.lock <= 0:
		return nil, fmt.Errorf("state: WithLockTimeout must be positive, got %v", o.lock)
	}
	if o.clock == nil {
		o.clock = clockwork.NewRealClock()
	}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: create directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	db, err := openDB(path, o)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(dir); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	res, stored, err := load(db, path, fingerprint)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{path: path, db: db, o: o, start: res, stored: stored, marks: res.Marks, counted: res.Counters,
		kick: make(chan struct{}, 1), write: make(chan struct{}, 1), stop: make(chan struct{})}
	s.batch.reset()
	s.wg.Go(s.loop)
	o.log.Debug("state opened", zap.String("path", path), zap.Bool("resumed", res.Resumed),
		zap.String("cursor", string(res.Cursor)), zap.Int("done", res.DoneCount()))
	return s, nil
}

// openDB opens the bbolt file, turning its failures into errors that name
// the path and say what to do. An existing file is first checked through a
// read-only handle: bbolt may panic, or fault on its memory map, reading a
// damaged file, and a panic inside bolt.Open would leave the file mapped and
// locked until the process ends.
func openDB(path string, o options) (*bolt.DB, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if err := verify(path, o); err != nil {
			return nil, err
		}
	}
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o644, &bolt.Options{Timeout: o.lock, MaxSize: o.maxSize})
		return err
	})
	if err != nil {
		return nil, openError(path, o, err)
	}
	return db, nil
}

// verify opens the file read-only and checks it: its length against the
// pages its meta page counts (a truncated file would fault), then bbolt's
// consistency check.
func verify(path string, o options) error {
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0, &bolt.Options{Timeout: o.lock, ReadOnly: true})
		return err
	})
	if err != nil {
		return openError(path, o, err)
	}
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			fi, err := os.Stat(path)
			if err != nil {
				return err
			}
			if fi.Size() < tx.Size() {
				return fmt.Errorf("%w: %d bytes, its pages need %d", ErrCorrupt, fi.Size(), tx.Size())
			}
			if err := checkFreelist(path); err != nil {
				return err
			}
			var first error
			for err := range tx.Check() { // drained: Check's goroutine sends every error
				if first == nil {
					first = fmt.Errorf("%w: %w", ErrCorrupt, err)
				}
			}
			return first
		})
	})
	if cerr := db.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return openError(path, o, err)
	}
	return nil
}

// openError names path in err and classifies it: in use, corrupt, or other.
func openError(path string, o options, err error) error {
	var pe *panicError
	switch {
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("state: %s: %w", path, err)
	case errors.As(err, &pe):
		return fmt.Errorf("state: %s: %w: %v", path, ErrCorrupt, pe.v)
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("state: %s: %w (waited %v for its lock)", path, ErrInUse, o.lock)
	case errors.As(err, new(*fs.PathError)), errors.As(err, new(syscall.Errno)):
		return fmt.Errorf("state: open %s: %w", path, err)
	default: // bbolt's own errors are about what it read: invalid pages, a file too short
		return fmt.Errorf("state: %s: %w: %w", path, ErrCorrupt, err)
	}
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Resume is the state as Open found it: where to resume, and what an
// earlier run committed.
func (s *Store) Resume() Resume { return s.start }

// SetCountersFunc makes every commit keep the counters fn returns, e.g. a
// crawl's request count for its summary after a resume. Each commit calls fn
// once, in the same step as it takes the journal's lines and the done
// records (under the lock that Append holds), so the counters it stores are
// at least as fresh as the work it records; a commit with nothing else to
// write still stores counters that changed. fn must be quick and must not
// call the store. Counters are the caller's: the store does not interpret
// them, and an empty name fails the commit.
func (s *Store) SetCountersFunc(fn func() map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = fn
}

// Finish records that the run finished and commits. A run that opens a
// finished state finds Resume.Finished set and has nothing left to do.
func (s *Store) Finish() error {
	s.mu.Lock()
	if s.err != nil {
		defer s.mu.Unlock()
		return s.err
	}
	s.batch.finished = true
	s.mu.Unlock()
	return s.Commit()
}

// Close stops the group commits, commits what is pending, closes the
// journal's files and the state file. It returns the store's first write or
// commit error, if any: then what was pending is not committed, and a
// resumed run does that work again. Close is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	err := s.Commit()
	s.mu.Lock()
	j := s.journal
	s.err = ErrClosed
	s.mu.Unlock()
	if j != nil {
		err = errors.Join(err, j.close())
	}
	if cerr := s.db.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("state: close %s: %w", s.path, cerr))
	}
	return err
}

// fail records err as the store's sticky error, unless one is already set.
// The caller holds s.mu.
func (s *Store) failLocked(err error) error {
	if s.err == nil {
		s.err = err
	}
	return s.err
}

// Reset deletes the state in dir so that the next Open starts over. It
// refuses a state held by another process (ErrInUse) and succeeds when there
// is none. The journal's files are left alone: a fresh state truncates them.
func Reset(dir string) error {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: reset %s: %w", path, err)
	}
	defer f.Close()
	if err := tryLock(f); err != nil {
		return fmt.Errorf("state: reset %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("state: reset %s: %w", path, err)
	}
	return nil
}
