package main

import (
	"bufio"
	"encoding/json"
	"os"

	"go.uber.org/zap"

	"github.com/politely/politely/crawl"
)

// maxFailedLine bounds the failed file's first line as warnAllFailed reads it.
const maxFailedLine = 64 << 10

// warnAllFailed tells the user, when a crawl that ran to its end got no item
// and failed some for good, why the first one failed: a task template naming
// a field the items lack, or a path the API does not serve, fails every item,
// and the summary alone gives only the counts. The reason is read from the
// failed file's first line; without it the warning names the file.
func warnAllFailed(log *zap.Logger, sum crawl.Summary, failedPath string) {
	if sum.Succeeded > 0 || sum.Failed == 0 || sum.Interrupted {
		return
	}
	fields := []zap.Field{zap.Int64("failed", sum.Failed), zap.String("failed_file", failedPath)}
	if first := firstFailure(failedPath); first != "" {
		fields = append(fields, zap.String("first_error", first))
	}
	log.Warn("every item failed for good; each one's error is in the failed file", fields...)
}

// firstFailure is the error of the failed file's first line, or "".
func firstFailure(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxFailedLine)
	if !sc.Scan() {
		return ""
	}
	var line struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(sc.Bytes(), &line) != nil {
		return ""
	}
	return line.Error
}
