package crawl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the binary units a size accepts; "" and "B" are bytes.
var sizeUnits = map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

// parseSize reads a positive whole number of bytes with an optional unit:
// "4096", "300B", "512KiB", "10 MiB", "1GiB". Decimal units (KB, MB) are
// refused rather than guessed.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits := 0
	for digits < len(t) && '0' <= t[digits] && t[digits] <= '9' {
		digits++
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	if digits == 0 {
		return 0, fmt.Errorf("%q is not a size (a whole number of bytes, or with KiB, MiB or GiB: 512KiB, 10MiB)", s)
	}
	unit := strings.TrimSpace(t[digits:])
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, KiB, MiB or GiB; 1 KiB = 1024 bytes)", s, unit)
	}
	n, err := strconv.ParseInt(t[:digits], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: too large", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return n * mult, nil
}
