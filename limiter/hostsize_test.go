package limiter

import (
	"testing"
	"unsafe"
)

// A Host is allocated once per distinct host, and a crawl over a million
// hosts makes a million of them. The allocator puts an object of more than
// 512 bytes that holds pointers behind an 8-byte header, so a Host of 760
// bytes takes the 768-byte size class and one of 768 bytes the 896-byte
// class: a field that crosses that line costs 128 bytes per host.
func TestHostFitsTheSizeClassOf768Bytes(t *testing.T) {
	if n := unsafe.Sizeof(Host{}); n+8 > 768 {
		t.Fatalf("a Host is %d bytes: with the allocator's 8-byte header it no longer fits the 768-byte size class (pack a field, or make it on first need as the pushback state is)", n)
	}
}
