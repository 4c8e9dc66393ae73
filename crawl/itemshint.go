package crawl

import (
	"fmt"
	"sort"
	"strings"
)

// arrayHint names, for an items_field that does not lead to an array, the
// arrays the page does hold (the likely right field), as ": the page's
// arrays: items (100 elements), meta.links (2 elements)". It looks two
// objects deep and names at most 5, nearest first; "" when the page holds
// none there.
func arrayHint(body any) string {
	const show, depth = 5, 3
	type at struct {
		path string
		v    any
	}
	var found []string
	level := []at{{v: body}}
	for d := 0; d < depth && len(level) > 0 && len(found) < show; d++ {
		var next []at
		for _, a := range level {
			switch c := a.v.(type) {
			case []any:
				name := a.path
				if name == "" {
					name = "the whole body, without items_field"
				}
				n := fmt.Sprintf("%d elements", len(c))
				if len(c) == 1 {
					n = "1 element"
				}
				found = append(found, name+" ("+n+")")
			case map[string]any:
				keys := make([]string, 0, len(c))
				for k := range c {
					if k != "" && !strings.Contains(k, ".") { // a name a dot path can reach
						keys = append(keys, k)
					}
				}
				sort.Strings(keys)
				for _, k := range keys {
					p := k
					if a.path != "" {
						p = a.path + "." + k
					}
					next = append(next, at{path: p, v: c[k]})
				}
			}
		}
		level = next
	}
	if len(found) == 0 {
		return ""
	}
	if len(found) > show {
		found = found[:show]
	}
	return "; the page's arrays: " + strings.Join(found, ", ")
}
