package state

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's file layout (format version 2), read here only to refuse what
// would make bbolt's own consistency check run away: a page starts with a
// 16-byte header (id uint64, flags uint16, count uint16, overflow uint32);
// pages 0 and 1 hold a meta (magic, version, page size, flags, root bucket,
// freelist page, high-water page, txid, checksum of what precedes it), the
// one with the higher txid being in force.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64
	noFreelist     = ^uint64(0)
)

// boltMeta is the part of a meta page the check needs.
type boltMeta struct {
	pageSize      uint64
	freelist, hwm uint64
	txid          uint64
}

// readMeta reads the meta on the page at off; ok is false when it is not a
// valid one (bbolt then uses the other).
func readMeta(f *os.File, off int64) (m boltMeta, ok bool, err error) {
	b := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(b, off); err == io.EOF || err == io.ErrUnexpectedEOF {
		return m, false, nil
	} else if err != nil {
		return m, false, err
	}
	b = b[pageHeaderSize:]
	le := binary.NativeEndian // bbolt writes its structs as they are in memory
	h := fnv.New64a()
	_, _ = h.Write(b[:56])
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion || le.Uint64(b[56:]) != h.Sum64() {
		return m, false, nil
	}
	return boltMeta{pageSize: uint64(le.Uint32(b[8:])), freelist: le.Uint64(b[32:]), hwm: le.Uint64(b[40:]),
		txid: le.Uint64(b[48:])}, true, nil
}

// checkFreelist refuses a file whose meta in force names a freelist page
// outside the file's pages or running past them: bbolt's check would loop
// over its bogus length (up to 2³² pages) for minutes.
func checkFreelist(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	m0, ok0, err := readMeta(f, 0)
	if err != nil {
		return err
	}
	if !ok0 || m0.pageSize == 0 {
		return nil // bbolt finds the other meta by probing page sizes, or refuses the file
	}
	m1, ok1, err := readMeta(f, int64(m0.pageSize))
	if err != nil {
		return err
	}
	m := m0
	if ok1 && m1.txid > m0.txid {
		m = m1
	}
	if m.freelist == noFreelist {
		return nil
	}
	if m.freelist >= m.hwm {
		return fmt.Errorf("%w: freelist page %d beyond the %d pages", ErrCorrupt, m.freelist, m.hwm)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := f.ReadAt(hdr, int64(m.freelist*m.pageSize)); err != nil {
		return fmt.Errorf("%w: freelist page %d: %w", ErrCorrupt, m.freelist, err)
	}
	if overflow := uint64(binary.NativeEndian.Uint32(hdr[12:])); m.freelist+overflow >= m.hwm {
		return fmt.Errorf("%w: freelist page %d runs %d pages past the %d pages", ErrCorrupt, m.freelist, overflow, m.hwm)
	}
	return nil
}
