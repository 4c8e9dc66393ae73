package crawl

// itemKeysOf is the keys a crawl decodes of its listing's items, nil for
// every key: a crawl with a task reads an item only to make its task's URL
// (the item is not written; with Redis it is stored whole, see distributed),
// so its items keep the keys task.url names. A next_field or cursor_field
// within the items keeps them whole too.
func itemKeysOf(cfg *Config, distributed bool) *itemKeys {
	if cfg.Task == nil || distributed {
		return nil
	}
	way := cfg.Source.ItemsField.keys
	for _, p := range []DotPath{cfg.Source.Pagination.NextField, cfg.Source.Pagination.CursorField} {
		if !p.IsZero() && hasPrefix(p.keys, way) {
			return nil
		}
	}
	var keep []string
	for _, part := range cfg.Task.URL.parts {
		if part.field != nil {
			keep = append(keep, part.field.keys[0])
		}
	}
	return newItemKeys(way, keep)
}

// newItemKeys is the itemKeys of items at way keeping the keys keep.
func newItemKeys(way, keep []string) *itemKeys {
	k := &itemKeys{way: way, keep: map[string]string{}}
	for _, key := range keep {
		k.keep[key] = key
		k.only = key
	}
	return k
}

// hasPrefix reports whether keys starts with prefix.
func hasPrefix(keys, prefix []string) bool {
	if len(prefix) > len(keys) {
		return false
	}
	for i, k := range prefix {
		if keys[i] != k {
			return false
		}
	}
	return true
}
