package crawl

import (
	"bytes"
	"encoding/json"
)

// stored is an item as it travels through Redis, as JSON: with a task, the
// task URL and host key the walker resolved (first, so that a worker reads
// them without decoding the rest), then the item's page and the item.
type stored struct {
	URL  string `json:"u,omitempty"`
	Host string `json:"h,omitempty"`
	Page string `json:"p"`
	Item any    `json:"i"`
}

// encodeStored encodes a listed item for the stream.
func encodeStored(it listed) ([]byte, error) {
	st := stored{Page: it.Page, Item: it.Item}
	if t := it.target; t != nil && t.err == nil {
		st.URL, st.Host = t.raw, t.key
	}
	return json.Marshal(st)
}

// decodeStored decodes an item read from Redis. The item itself is decoded
// only when the crawl needs it: without a task (it is the output), or
// without a resolved task URL (an entry stored by an older walker).
func decodeStored(payload []byte, task bool) (listed, error) {
	if task {
		if l, ok := decodeResolved(payload); ok {
			return l, nil
		}
	}
	var v struct {
		stored
		Item json.RawMessage `json:"i"`
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		return listed{}, err
	}
	l := listed{Page: v.Page}
	if task && v.URL != "" {
		l.target = &target{raw: v.URL, key: v.Host}
		return l, nil
	}
	if len(v.Item) == 0 {
		return l, nil
	}
	dec := json.NewDecoder(bytes.NewReader(v.Item))
	dec.UseNumber()
	if err := dec.Decode(&l.Item); err != nil {
		return listed{}, err
	}
	return l, nil
}

// decodeResolved reads the task URL, host key and page at the start of a
// payload encodeStored wrote, without decoding the item; ok is false when
// the payload does not start with them or one holds an escape (then
// json.Unmarshal reads it).
func decodeResolved(payload []byte) (l listed, ok bool) {
	var t target
	rest := payload
	if t.raw, rest, ok = cutString(rest, `{"u":"`); !ok {
		return listed{}, false
	}
	if t.key, rest, ok = cutString(rest, `,"h":"`); !ok {
		return listed{}, false
	}
	if l.Page, _, ok = cutString(rest, `,"p":"`); !ok {
		return listed{}, false
	}
	l.target = &t
	return l, true
}

// cutString reads the JSON string after prefix at the start of b, when it
// holds no escape (json.Marshal escapes every character that needs one),
// and returns it and what follows its closing quote.
func cutString(b []byte, prefix string) (s string, rest []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", nil, false
	}
	b = b[len(prefix):]
	end := bytes.IndexByte(b, '"')
	if end < 0 || bytes.IndexByte(b[:end], '\\') >= 0 {
		return "", nil, false
	}
	return string(b[:end]), b[end+1:], true
}
