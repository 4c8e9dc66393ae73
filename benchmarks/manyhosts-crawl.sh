#!/bin/sh
# manyhosts-crawl.sh runs `politely crawl` over a listing whose items are
# spread over 9 hosts (mock servers on 127.0.0.1): 8 healthy ones (4 slots x
# 20 ms, 4 queued, 503 + Retry-After beyond: 200 req/s each) and one answering
# 503 + Retry-After for its first 5 s. 300 items per host: the ideal is 6.5 s
# (the gated host's 5 s, then its 300 items at 200/s). It prints the crawl's
# summary and each host's ground truth (items done, early requests).
#
# usage: benchmarks/manyhosts-crawl.sh [POLITELY_BINARY]   (default: built from ./cmd/politely)
# POLITELY_MOCK=BINARY serves the mocks with another binary (one that has
# mock --detail-hosts and --blackout-for), to measure an older crawl.
set -eu
work=$(mktemp -d)
bin=${1:-}
if [ -z "$bin" ]; then
	bin=$work/politely
	go build -o "$bin" ./cmd/politely
fi
mockbin=${POLITELY_MOCK:-$bin}
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# mock NAME ARGS...: starts a mock server and sets $url to its URL.
mock() {
	name=$1
	shift
	"$mockbin" mock --addr 127.0.0.1:0 "$@" >"$work/$name.out" 2>&1 &
	pids="$pids $!"
	for _ in $(seq 100); do
		url=$(sed -n 's/^mock API "[^"]*" at \(http:[^ ]*\) .*/\1/p' "$work/$name.out" 2>/dev/null || true)
		[ -n "$url" ] && return 0
		sleep 0.1
	done
	echo "mock $name did not start" >&2
	exit 1
}

hosts=""
for i in 1 2 3 4 5 6 7 8; do
	mock "healthy$i" --scenario capacity --slots 4 --queue 4 --latency 20ms --jitter 0
	hosts="$hosts,${url#http://}"
done
# The gated host's blackout starts when it starts: start it last, right before the crawl.
listing_hosts=${hosts#,}
cat >"$work/crawl.yaml" <<YAML
user_agent: "politely-manyhosts-bench/1.0"
source:
  url: "LISTING/items?per_page=100"
  pagination: {style: page}
  items_field: items
task:
  url: "{+detail_path}"
output: $work/out.jsonl
YAML
mock gated --scenario capacity --slots 4 --queue 4 --latency 20ms --jitter 0 --blackout-at 0 --blackout-for 5s
gated=$url
mock listing --scenario fast --items 2700 --per-page 100 --detail-hosts "$listing_hosts,${gated#http://}"
sed -i "s#LISTING#$url#" "$work/crawl.yaml"
"$bin" crawl -c "$work/crawl.yaml" --quiet --stats "$work/stats.json" 2>"$work/crawl.log" || { cat "$work/crawl.log" >&2; exit 1; }
cat "$work/stats.json"
echo
for h in $(echo "$listing_hosts" | tr , ' ') "${gated#http://}"; do
	curl -s "http://$h/__stats" | python3 -c '
import json,sys
s=json.load(sys.stdin); ps=s["per_second"]
ok=sum(x["ok"] for x in ps)
last=max([i for i,x in enumerate(ps) if x["ok"]>0] or [0])
print("%s ok=%d early=%d last_ok_second=%d throttled=%d max_in_flight=%d ok/s=%s" % (sys.argv[1], ok, s["early_requests"], last, s["by_status"].get("503",0), s["max_in_flight"], [x["ok"] for x in ps]))
' "$h"
done
