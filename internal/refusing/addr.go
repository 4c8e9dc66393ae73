package refusing

// T is the part of a testing.TB that Addr uses.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Addr holds a port for t's test, gives it back when the test ends, and
// returns its host:port.
func Addr(t T) string {
	t.Helper()
	p, err := Hold()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p.Addr()
}
