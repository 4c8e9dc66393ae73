package benchmarks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// urlLine is what the bench reads of a line of a crawl's output or failed
// file: the URL of its item.
type urlLine struct {
	URL   string `json:"url"`
	Error string `json:"error"` // a failed line's
}

// eachLine decodes every line of the JSON-lines file at path (a crawl's
// output or failed file) into a T and passes it to fn. A file that does not
// exist has no lines when missingOK; a line that is not JSON is an error that
// names the file and the line.
func eachLine[T any](path string, missingOK bool, fn func(T)) error {
	f, err := os.Open(path)
	if missingOK && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("%s:%d: a line that is not JSON: %w", path, n, err)
		}
		fn(v)
	}
	return sc.Err()
}
