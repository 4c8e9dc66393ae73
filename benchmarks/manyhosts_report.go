package benchmarks

import (
	"fmt"
	"io"
	"strings"
)

// WriteManyHosts writes the result as a Markdown table and the targets.
func WriteManyHosts(w io.Writer, r ManyHostsResult) error {
	mh := r.Scenario
	var b strings.Builder
	mixed := ""
	if mh.Mixed {
		mixed = ", every second one with half of them"
	}
	if mh.Spread > 1 {
		mixed += fmt.Sprintf(", service times spread up to %.3gx", mh.Spread)
	}
	if mh.Jitter > 0 {
		mixed += fmt.Sprintf(", each request's ±%.0f%%", 100*mh.Jitter)
	}
	fmt.Fprintf(&b, "## %s\n\n%d healthy hosts (%d slots x %v, %d queued, 503 + Retry-After beyond%s), %d answering 503 + Retry-After for their first %v, %d taking %v per request",
		ManyHostsName, mh.Healthy, mh.Slots, mh.Latency, mh.Queue, mixed, mh.Gated, mh.Blackout, mh.Slow, mh.SlowLatency)
	if mh.Quota > 0 {
		beyond := "a bare 429"
		if mh.QuotaHeaders {
			beyond = "429 + Retry-After, announcing it in RateLimit-* and X-RateLimit-* headers,"
		}
		fmt.Fprintf(&b, ", %d behind a quota of %.0f req/s (burst %d) answering %s beyond it", mh.Quota, mh.QuotaRate, mh.QuotaBurst, beyond)
	}
	if mh.BlackHoles > 0 {
		fmt.Fprintf(&b, ", %d never answering (%d items each; limits.timeout %v)", mh.BlackHoles, mh.BlackHoleItems, mh.BlackHoleTimeout)
		if mh.DeadRobots {
			b.WriteString(" nor their robots.txt")
		}
	}
	if mh.Refusing > 0 {
		fmt.Fprintf(&b, ", %d refusing every connection (%d items each)", mh.Refusing, mh.BlackHoleItems)
	}
	if mh.Tarpits > 0 {
		fmt.Fprintf(&b, ", %d sending their headers and then nothing (%d items each; limits.timeout %v)", mh.Tarpits, mh.BlackHoleItems, mh.BlackHoleTimeout)
	}
	if mh.Redirecting > 0 {
		fmt.Fprintf(&b, ", %d redirecting each item to the first black hole (%d items each)", mh.Redirecting, mh.BlackHoleItems)
	}
	if mh.Faulty > 0 {
		fmt.Fprintf(&b, ", %d as the healthy ones but failing %.0f%% of an item's first %d attempts (a 500, a reset or a body cut short)", mh.Faulty, 100*mh.FaultyShare, faultyAttempts)
	}
	if mh.Flaky > 0 {
		fmt.Fprintf(&b, ", %d hanging %.0f%% of their requests (%d items each; limits.timeout %v)", mh.Flaky, 100*mh.FlakyHang, mh.FlakyItems, mh.BlackHoleTimeout)
		if mh.FlakyDies > 0 {
			fmt.Fprintf(&b, " and every request from %v after their start", mh.FlakyDies)
		}
	}
	b.WriteString("; separate mock servers on 127.0.0.1")
	if mh.TLS != nil {
		b.WriteString(" serving HTTPS (HTTP/2 offered; the crawl trusts their certificate)")
	}
	if mh.Grouped {
		b.WriteString(", the listing holding each host's items together (the hosts that are not healthy first)")
	}
	b.WriteString(", crawled by `politely crawl`'s default config")
	if mh.MaxTotal > 0 {
		fmt.Fprintf(&b, " with max_total %d (a healthy host's optimum is at most its even share of it among the hosts that are not gated, %.1f in service)", mh.MaxTotal, mh.fairShare())
	}
	b.WriteString(".\n\n")
	b.WriteString("| host | role | items | done | first listed | first sent | first item sent | first done | last done | goodput/s | optimum/s | ratio | ratio from listed | listing allowed/s | ratio of listing allowed | early requests | 429/503 | most in flight (server) | most open (crawl) | slots + queue |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, h := range r.Hosts {
		g, ratio, listed := h.Goodput(mh.Blackout), "-", "-"
		if h.Optimum > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*g/h.Optimum)
			listed = fmt.Sprintf("%.0f%%", 100*h.GoodputListed(mh.Blackout)/h.Optimum)
		}
		allowed, ofAllowed := "-", "-"
		if a := h.ListingAllowed(); a > 0 && h.Role == RoleHealthy && r.ListingBound() {
			allowed, ofAllowed = fmt.Sprintf("%.0f", a), fmt.Sprintf("%.0f%%", 100*h.Goodput(0)/a)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2fs | %.2fs | %.2fs | %.2fs | %.2fs | %.0f | %.0f | %s | %s | %s | %s | %d | %d | %d | %d | %d |\n",
			h.Host, h.Role, h.Items, h.Done, h.FirstListed.Seconds(), h.FirstSent.Seconds(), h.FirstItemSent.Seconds(), h.FirstDone.Seconds(), h.Last.Seconds(), g, h.Optimum, ratio, listed, allowed, ofAllowed, h.Early, h.Refused, h.Served, h.Sent, h.Capacity)
	}
	fmt.Fprintf(&b, "\ncrawl: %.2fs, ideal %.2fs (%.2fx); listing read by %.2fs; items lost: %d", r.Elapsed.Seconds(), r.Ideal.Seconds(), r.TimeRatio(), r.Listed.Seconds(), r.Lost)
	fmt.Fprintf(&b, "; %d requests on %d connections opened", r.Requests, r.Dials)
	if r.HTTP2 > 0 {
		fmt.Fprintf(&b, " (%d answered over HTTP/2)", r.HTTP2)
	}
	if r.CPU > 0 {
		fmt.Fprintf(&b, "; the process's CPU during the crawl %.2fs (the mock servers' included)", r.CPU.Seconds())
	}
	if a := r.HealthyAnswered(); a > 0 {
		fmt.Fprintf(&b, "; a healthy host's fastest tenth of item answers took %.2fx its service time as the crawl read them (request to body's end: over 1 where the process ran late)", a)
	}
	if mh.BlackHoles+mh.Refusing+mh.Tarpits > 0 {
		fmt.Fprintf(&b, "; black holes', refusing hosts', tarpits' and redirecting hosts' items given up: %d", r.GaveUp)
	}
	for _, g := range []struct {
		n    int
		name string
		why  failedByWhy
	}{{mh.BlackHoles, "black holes", r.Holes}, {mh.Refusing, "refusing hosts", r.Refused}, {mh.Tarpits, "tarpits", r.Tarpit}, {mh.Redirecting, "redirecting hosts", r.Redirect}} {
		if g.n > 0 {
			fmt.Fprintf(&b, "; %s' items failed: %d as unresponsive, %d disallowed by robots.txt, %d after every attempt",
				g.name, g.why.Unresponsive, g.why.Disallowed, g.why.Attempts)
		}
	}
	if mh.Flaky > 0 {
		fmt.Fprintf(&b, "; flaky hosts' items failed: %d after every attempt, %d as unresponsive", r.Flaky.Attempts, r.Flaky.Unresponsive)
		if mh.FlakyDies > 0 {
			fmt.Fprintf(&b, "; the crawl ended %.2fs after the flaky hosts stopped answering", (r.Elapsed - mh.FlakyDies).Seconds())
		}
	}
	b.WriteString("\n\n")
	switch {
	case r.ListingBound():
		fmt.Fprintf(&b, "Beside the optimum, what the listing allowed: the crawl read at most %d items ahead of those whose answers had ended, and with the %d its handlers may still hold, under the %d it reads ahead before its reader waits: the listing never waited for the hosts, and its pace bounded theirs. A healthy host's \"listing allowed\" is the lesser of its optimum and its items over when its last item was listed; its goodput over that, worst healthy host: %.0f%%. The targets below still count the optimum.\n\n",
			r.ReadAhead, r.MaxTotal, r.ReadAheadCap, 100*r.WorstHealthyListingRatio())
	case r.ReadAheadCap > 0:
		fmt.Fprintf(&b, "The crawl read up to %d items ahead of those whose answers had ended (and its handlers may hold %d more), against the %d it reads ahead before its reader waits: the listing may have waited for the hosts, so no figure against its pace is given.\n\n", r.ReadAhead, r.MaxTotal, r.ReadAheadCap)
	}
	for _, t := range r.Targets() {
		verdict := "met"
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", verdict, t.Name, t.Measured)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Targets are the many-host scenario's targets with their verdicts.
func (r ManyHostsResult) Targets() []Target {
	worst := r.WorstHealthyRatio()
	ts := []Target{
		{Name: "many hosts: every healthy host keeps >= 85% of its optimum while others are gated or slow (counted from the crawl's start)",
			Measured: fmt.Sprintf("worst healthy host %.0f%%, %d of %d at >= 85%%; counted from its first item's listing page instead: worst %.0f%%",
				100*worst, r.healthyAt(0.85), r.Scenario.Healthy, 100*r.WorstHealthyListedRatio()), Met: worst >= 0.85},
		{Name: "many hosts: the crawl ends within 1.3x the ideal time",
			Measured: fmt.Sprintf("%.2fs of %.2fs ideal (%.2fx)", r.Elapsed.Seconds(), r.Ideal.Seconds(), r.TimeRatio()), Met: r.TimeRatio() <= 1.3},
		{Name: "many hosts: a gated host receives nothing before its Retry-After",
			Measured: fmt.Sprintf("%d early requests", r.GatedEarly()), Met: r.GatedEarly() == 0},
		{Name: "many hosts: nothing lost", Measured: fmt.Sprintf("%d items lost", r.Lost), Met: r.Lost == 0 && r.Err == nil},
		{Name: "many hosts: the crawl never has more requests open at a host than its slots and queue",
			Measured: fmt.Sprintf("most beyond them: %d", r.MostSentOverCapacity()), Met: r.MostSentOverCapacity() == 0},
	}
	if r.Scenario.Flaky > 0 && r.Scenario.FlakyDies == 0 {
		ts = append(ts, Target{Name: "many hosts: a flaky host's items fail only when every attempt went unanswered, never as unresponsive",
			Measured: fmt.Sprintf("%d failed as unresponsive", r.Flaky.Unresponsive), Met: r.Flaky.Unresponsive == 0})
	}
	return ts
}
