#!/usr/bin/env python3
"""Run `politely crawl` as a user does (only the listing, the task URL and the output set; every
limit at its default; a cold start) against `politely mock` servers built with parameters the bench
does not use, and print one line per run: goodput over what the server allowed, throttled answers,
early requests, lost and duplicated items, wall time, T90 for capacity rows, and a verdict.

usage: matrix.py BIN [--mockbin BIN] [--rows REGEX] [--runs N] [--lock] [--t90] [--json FILE] [--list] [--self-test]
Without --rows it runs the QUICK rows (about 10 minutes without waiting for the lock).

Every run is bounded: a crawl that has not ended after its row's time limit is killed and reported
as KILLED-AT-LIMIT (a stall, or a crawl far below the server's rate). One crawl runs at a time; with --lock each run takes /tmp/politely-measure.lock.

What a row measures:
- ideal: the least time the server allows for the 2xx answers the crawl got (listing pages and
  details): capacity N/(slots/latency); a token bucket (N-burst)/rate; a fixed window the start of
  the window in which the N-th request fits; a sliding window the first window's end plus
  (N-limit)/(limit/window) (windows are aligned to the Unix epoch, as the mock's are); many hosts
  the slowest host's own ideal. goodput = ideal / the crawl's duration_s. Rows whose ideal is under
  a second are judged on throttling, early and lost only (goodput is then noise).
- avg (window rows): the same 2xx over the window's average rate, limit/window, as `politely bench` measures its
  header quotas; goodput counts a window's whole limit as usable at its start.
- thr%: 429 + 503 + 403 over every request the servers received.
- early: the mocks' count of requests that arrived before a Retry-After or a used-up fixed window and
  that the client sent after it could have read the answer (see mockapi's Stats.EarlyRequests: what
  the server had written on the request's connection before it, not when the handler read it).
- lost: items neither written to the output nor to the failed file; dup: ids written twice.
- failed: lines in the failed file; the verdict counts those the servers' design does not make (see owed:
  the presets' private items that robots.txt disallows, broken or deleted items, redirect loops, real errors
  of a host the row makes sick or kills). An item failed on a throttle always counts.
- T90 (capacity rows, with --t90 only): when detail 200s over the next 200 ms first reach 90% of the
  optimum. The poll costs the mock a snapshot of its per-item maps every 0.1 s, which grows with the
  items: on rows of 20,000 items it may slow the server it measures.
"""
import argparse, atexit, datetime, random, fcntl, json, math, os, re, shutil, ssl, subprocess, sys, tempfile, threading, time, urllib.request

# The four kinds of hosts-mixed4, repeated for the rows of hundreds of hosts.
MIXED = [('capacity', '--slots 8 --queue 8 --latency 20ms'), ('quota-no-headers', '--rate 50 --burst 5'),
         ('header-quota-token-bucket', '--header-limit 50 --header-window 1s --header-burst 10'),
         ('blackout', '--blackout-at 0s --blackout-for 3s --slots 8 --queue 8')]

# Each row: (name, main mock's scenario and knobs, items, model, detail hosts [(scenario, knobs)], limit s)
# model: ('cap', slots, latency_s[, blackout_s]) | ('bucket', rate, burst) | ('fixed'|'sliding', limit, window_s)
#        | ('tb', rate, burst) | ('none',)
ROWS = [
    # capacity: slots x latency, queue, jitter
    ('cap-4x2ms-q0', 'capacity', '--slots 4 --queue 0 --latency 2ms --jitter 0s', 6000, ('cap', 4, 0.002), [], 60),
    ('cap-8x5ms-q1', 'capacity', '--slots 8 --queue 1 --latency 5ms --jitter 0s', 6000, ('cap', 8, 0.005), [], 60),
    ('cap-8x100ms-q16', 'capacity', '--slots 8 --queue 16 --latency 100ms --jitter 50ms', 600, ('cap', 8, 0.1), [], 60),
    ('cap-64x20ms-q8', 'capacity', '--slots 64 --queue 8 --latency 20ms --jitter 10ms', 12000, ('cap', 64, 0.02), [], 60),
    ('cap-64x100ms-q128', 'capacity', '--slots 64 --queue 128 --latency 100ms --jitter 0s', 4000, ('cap', 64, 0.1), [], 60),
    ('cap-128x20ms-q256', 'capacity', '--slots 128 --queue 256 --latency 20ms --jitter 10ms', 20000, ('cap', 128, 0.02), [], 60),
    ('cap-4x300ms-q0', 'capacity', '--slots 4 --queue 0 --latency 300ms --jitter 150ms', 200, ('cap', 4, 0.3), [], 60),
    ('inflight-8x5ms', 'inflight-429', '--slots 8 --latency 5ms --jitter 0s', 6000, ('cap', 8, 0.005), [], 60),
    ('inflight-64x20ms', 'inflight-429', '--slots 64 --latency 20ms --jitter 10ms', 12000, ('cap', 64, 0.02), [], 60),
    # the client's own ceiling on this machine for the big capacity rows' item counts: no limit at all
    ('fast-12000', 'fast', '', 12000, ('none',), [], 60),
    # quotas without headers: rate, burst
    ('nohdr-3-b1', 'quota-no-headers', '--rate 3 --burst 1', 60, ('bucket', 3, 1), [], 60),
    ('nohdr-20-b5', 'quota-no-headers', '--rate 20 --burst 5', 400, ('bucket', 20, 5), [], 60),
    ('nohdr-50-b50', 'quota-no-headers', '--rate 50 --burst 50', 1000, ('bucket', 50, 50), [], 60),
    ('nohdr-300-b5', 'quota-no-headers', '--rate 300 --burst 5', 6000, ('bucket', 300, 5), [], 60),
    ('nohdr-1000-b50', 'quota-no-headers', '--rate 1000 --burst 50', 12000, ('bucket', 1000, 50), [], 60),
    ('bare429-20-b5', 'quota-no-retry-after', '--rate 20 --burst 5', 400, ('bucket', 20, 5), [], 60),
    ('bare429-300-b50', 'quota-no-retry-after', '--rate 300 --burst 50', 6000, ('bucket', 300, 50), [], 60),
    ('nohdr-20-ra5', 'quota-no-headers', '--rate 20 --burst 5 --retry-after 5s', 400, ('bucket', 20, 5), [], 60),
    ('nohdr-50-radate', 'quota-no-headers', '--rate 50 --burst 10 --retry-after-date', 1000, ('bucket', 50, 10), [], 60),
    ('ietf-only-50-b10', 'quota', '--rate 50 --burst 10 --quota-headers ietf', 1000, ('bucket', 50, 10), [], 60),
    # IETF RateLimit / RateLimit-Policy and X-RateLimit-* from a token bucket
    ('ietf-20-b5', 'quota', '--rate 20 --burst 5', 400, ('bucket', 20, 5), [], 60),
    ('ietf-300-b50', 'quota', '--rate 300 --burst 50', 6000, ('bucket', 300, 50), [], 60),
    # header quotas: kind, limit, window
    ('fixed-50/1s', 'header-quota', '--header-limit 50 --header-window 1s', 1000, ('fixed', 50, 1), [], 60),
    ('fixed-300/10s', 'header-quota', '--header-limit 300 --header-window 10s', 1000, ('fixed', 300, 10), [], 60),
    ('fixed-200/60s', 'header-quota', '--header-limit 200 --header-window 60s', 150, ('none',), [], 60),
    ('sliding-50/1s', 'header-quota-sliding', '--header-limit 50 --header-window 1s', 1000, ('sliding', 50, 1), [], 60),
    ('sliding-100/1s', 'header-quota-sliding', '--header-limit 100 --header-window 1s', 1000, ('sliding', 100, 1), [], 60),
    ('sliding-300/10s', 'header-quota-sliding', '--header-limit 300 --header-window 10s', 1000, ('sliding', 300, 10), [], 60),
    ('tb-20/1s-b5', 'header-quota-token-bucket', '--header-limit 20 --header-window 1s --header-burst 5', 400, ('tb', 20, 5), [], 60),
    ('tb-300/1s-b50', 'header-quota-token-bucket', '--header-limit 300 --header-window 1s --header-burst 50', 6000, ('tb', 300, 50), [], 60),
    ('tb-600/60s-b10', 'header-quota-token-bucket', '--header-limit 600 --header-window 60s --header-burst 10', 200, ('tb', 10, 10), [], 60),
    # header quotas announced as inference APIs do: x-ratelimit-limit-requests, -remaining-requests, -reset-requests
    # ("1s", "6m0s", "20ms") with -tokens siblings, instead of X-RateLimit-*
    ('reqhdr-tb-20/1s-b5', 'header-quota-token-bucket', '--header-requests --header-limit 20 --header-window 1s --header-burst 5', 400, ('tb', 20, 5), [], 60),
    ('reqhdr-tb-300/1s-b50', 'header-quota-token-bucket', '--header-requests --header-limit 300 --header-window 1s --header-burst 50', 6000, ('tb', 300, 50), [], 60),
    ('reqhdr-tb-600/60s-b10', 'header-quota-token-bucket', '--header-requests --header-limit 600 --header-window 60s --header-burst 10', 200, ('tb', 10, 10), [], 60),
    ('reqhdr-sliding-100/1s', 'header-quota-sliding', '--header-requests --header-limit 100 --header-window 1s', 1000, ('sliding', 100, 1), [], 60),
    ('reqhdr-fixed-50/1s', 'header-quota', '--header-requests --header-limit 50 --header-window 1s', 1000, ('fixed', 50, 1), [], 60),
    # a robots.txt that is slow (a slow origin behind a cached API) or answered with an error while the API serves
    # (RFC 9309: a 4xx is no rules, a 5xx after retries disallows the host); the ideal leaves robots.txt's time out
    ('robots1s-32q32', 'capacity', '--robots-latency 1s', 4000, ('cap', 32, 0.02), [], 60),
    ('robots404-32q32', 'capacity', '--robots-status 404', 4000, ('cap', 32, 0.02), [], 60),
    ('robots503-32q32', 'capacity', '--robots-status 503', 4000, ('cap', 32, 0.02), [], 60),
    ('hosts-20-robots1s', 'fast', '', 2000, ('hosts',), [('capacity', '--servers 20 --slots 4 --queue 4 --latency 20ms --jitter 5ms --robots-latency 1s')], 60),
    ('hosts-4+robots503', 'fast', '', 1600, ('hosts',), [('capacity', '--servers 3 --slots 4 --queue 4 --latency 20ms --jitter 5ms'),
        ('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --robots-status 503 --x-sick 1')], 90),
    # a listing limited apart from its details on one host (a search endpoint's own bucket, 429 + Retry-After): the
    # listing's refusals should not hold the details back; the ideal is the slower of the two
    ('listq5-32q32', 'capacity', '--listing-rate 5 --listing-burst 1', 4000, ('listing', 0.2, 100, True), [], 60),
    ('listq5-bare429-32q32', 'capacity', '--listing-rate 5 --listing-burst 1 --quota-no-retry-after', 4000, ('listing', 0.2, 100, True), [], 60),
    ('listq5-nohdr300-b10', 'quota-no-headers', '--rate 300 --burst 10 --listing-rate 5 --listing-burst 1', 4000, ('bucket', 300, 10), [], 60),
    ('listq2-tight-16q4', 'capacity-tight', '--listing-rate 2 --listing-burst 2', 2000, ('listing', 0.5, 100, True), [], 60),
    # the control of the rows below (32 + 32 x 20 ms, nothing else)
    ('ctl-32q32', 'capacity', '', 4000, ('cap', 32, 0.02), [], 60),
    # items deleted since listing: a share answered 404 at once (no service time), the rest at 20 ms
    ('missing10%-32q32', 'capacity', '--missing-share 0.1', 4000, ('cap', 32, 0.02), [], 60),
    ('missing30%-32q32', 'capacity', '--missing-share 0.3', 4000, ('cap', 32, 0.02), [], 60),
    ('missing10%-16x200ms-q16', 'capacity', '--slots 16 --queue 16 --latency 200ms --jitter 50ms --missing-share 0.1', 800, ('cap', 16, 0.2), [], 60),
    # a redirect to a canonical URL on the same host (302, then served): every item, or a share of them
    ('canon100%-32q32', 'capacity', '--redirect-once-share 1', 4000, ('cap', 32, 0.02), [], 60),
    ('canon10%-32q32', 'capacity', '--redirect-once-share 0.1', 4000, ('cap', 32, 0.02), [], 60),
    ('canon100%-16x200ms-q16', 'capacity', '--slots 16 --queue 16 --latency 200ms --jitter 50ms --redirect-once-share 1', 800, ('cap', 16, 0.2), [], 60),
    # a redirect loop on a share of the items (/items/7 -> ?loop=1 -> back): those items fail for good, the rest
    # should go at the server's pace (failed = the looping items)
    ('loop10%-32q32', 'capacity', '--redirect-loop-share 0.1', 4000, ('cap', 32, 0.02), [], 60),
    ('loop50%-32q32', 'capacity', '--redirect-loop-share 0.5', 4000, ('cap', 32, 0.02), [], 60),
    # the bench's header quotas, as a guard for changes made for the rows above
    ('bench-fixed-500/5s', 'header-quota', '', 2000, ('fixed', 500, 5), [], 60),
    ('bench-sliding-500/5s', 'header-quota-sliding', '', 2000, ('sliding', 500, 5), [], 60),
    ('bench-tb-100-b20', 'header-quota-token-bucket', '', 2000, ('tb', 100, 20), [], 60),
    ('bench-tb-100-b1', 'header-quota-token-bucket-1', '', 1500, ('tb', 100, 1), [], 60),
    # blackouts, faults, pagination, item counts
    ('blackout-0s+2s', 'blackout', '--blackout-at 0s --blackout-for 2s', 4000, ('cap', 32, 0.02, 2), [], 60),
    ('blackout-2s+5s', 'blackout', '--blackout-at 2s --blackout-for 5s', 8000, ('cap', 32, 0.02, 5), [], 60),
    ('blackout-date-1s+3s', 'blackout', '--blackout-at 1s --blackout-for 3s --retry-after-date', 4000, ('cap', 32, 0.02, 3), [], 60),
    ('tight-16q2-ra5', 'capacity', '--slots 16 --queue 2 --retry-after 5s', 4000, ('cap', 16, 0.02), [], 60),
    ('faults-seed7', 'faults', '--seed 7', 2000, ('none',), [], 90),
    ('cursor-200', 'capacity', '--pagination cursor --items 200', 200, ('cap', 32, 0.02), [], 30),
    ('link-20000', 'capacity', '--pagination link --items 20000', 20000, ('cap', 32, 0.02), [], 60),
    ('next_url-quota', 'quota', '--pagination next_url --rate 50 --burst 10', 500, ('bucket', 50, 10), [], 60),
    ('offset-tight', 'capacity-tight', '--pagination offset --slots 8 --queue 2', 2000, ('cap', 8, 0.02), [], 60),
    # many hosts of different kinds behind one listing
    ('hosts-mixed4', 'fast', '--items 800', 800, ('hosts',), [
        ('capacity', '--slots 8 --queue 8 --latency 20ms'),
        ('quota-no-headers', '--rate 50 --burst 5'),
        ('header-quota-token-bucket', '--header-limit 50 --header-window 1s --header-burst 10'),
        ('blackout', '--blackout-at 0s --blackout-for 3s --slots 8 --queue 8')], 60),
    ('hosts-mixed4-tb-alone', 'header-quota-token-bucket', '--header-limit 50 --header-window 1s --header-burst 10', 200, ('tb', 50, 10), [], 30),
    ('hosts-mixed4-quota-alone', 'quota-no-headers', '--rate 50 --burst 5', 200, ('bucket', 50, 5), [], 30),
    ('hosts-8-slow', 'fast', '--items 1600', 1600, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms')] * 7 + [
        ('capacity', '--slots 4 --queue 4 --latency 300ms')], 90),
    # hundreds of detail hosts of mixed kinds, and faults spread over many hosts (each host is a mock process)
    ('hosts-160-mixed', 'fast', '--items 8000', 8000, ('hosts',), MIXED * 40, 120),
    ('hosts-100-faults', 'fast', '--items 4000', 4000, ('hosts',), [('faults', f'--seed {k}') for k in range(1, 101)], 120),
    ('hosts-300-cap', 'fast', '--items 6000', 6000, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms')] * 299 + [
        ('capacity', '--slots 4 --queue 4 --latency 300ms')], 120),
    # a server whose clock is ahead of ours or behind it: Date, windows, Resets and Retry-After dates on its clock
    ('skew+3-fixed-50/1s', 'header-quota', '--header-limit 50 --header-window 1s --clock-offset 3s', 1000, ('fixed', 50, 1), [], 60),
    ('skew-3-fixed-50/1s', 'header-quota', '--header-limit 50 --header-window 1s --clock-offset -3s', 1000, ('fixed', 50, 1), [], 60),
    ('skew+5-fixed-300/10s', 'header-quota', '--header-limit 300 --header-window 10s --clock-offset 5s', 1000, ('fixed', 300, 10), [], 60),
    ('skew-5-fixed-300/10s', 'header-quota', '--header-limit 300 --header-window 10s --clock-offset -5s', 1000, ('fixed', 300, 10), [], 60),
    ('skew+5-sliding-300/10s', 'header-quota-sliding', '--header-limit 300 --header-window 10s --clock-offset 5s', 1000, ('sliding', 300, 10), [], 60),
    ('skew-5-sliding-300/10s', 'header-quota-sliding', '--header-limit 300 --header-window 10s --clock-offset -5s', 1000, ('sliding', 300, 10), [], 60),
    ('skew+30-nohdr-radate', 'quota-no-headers', '--rate 50 --burst 10 --retry-after-date --clock-offset 30s', 1000, ('bucket', 50, 10), [], 60),
    ('skew-30-nohdr-radate', 'quota-no-headers', '--rate 50 --burst 10 --retry-after-date --clock-offset -30s', 1000, ('bucket', 50, 10), [], 60),
    ('skew+5-blackout-date', 'blackout', '--blackout-at 1s --blackout-for 3s --retry-after-date --clock-offset 5s', 4000, ('cap', 32, 0.02, 3), [], 60),
    ('skew-5-blackout-date', 'blackout', '--blackout-at 1s --blackout-for 3s --retry-after-date --clock-offset -5s', 4000, ('cap', 32, 0.02, 3), [], 60),
    ('skew+5-ietf-20-b5', 'quota', '--rate 20 --burst 5 --clock-offset 5s', 400, ('bucket', 20, 5), [], 60),
    # header quotas announced in IETF RateLimit / RateLimit-Policy (t: whole seconds to Reset) instead of X-RateLimit-*
    ('ietfw-fixed-50/1s', 'header-quota', '--header-ietf --header-limit 50 --header-window 1s', 1000, ('fixed', 50, 1), [], 60),
    ('ietfw-fixed-300/10s', 'header-quota', '--header-ietf --header-limit 300 --header-window 10s', 1000, ('fixed', 300, 10), [], 60),
    ('ietfw-sliding-300/10s', 'header-quota-sliding', '--header-ietf --header-limit 300 --header-window 10s', 1000, ('sliding', 300, 10), [], 60),
    ('ietfw-tb-20/1s-b5', 'header-quota-token-bucket', '--header-ietf --header-limit 20 --header-window 1s --header-burst 5', 400, ('tb', 20, 5), [], 60),
    ('ietfw-fixed-100/60s', 'header-quota', '--header-ietf --header-limit 100 --header-window 60s', 250, ('fixed', 100, 60), [], 200),
    # windows of 60 s crossed during the crawl
    ('fixed-100/60s', 'header-quota', '--header-limit 100 --header-window 60s', 250, ('fixed', 100, 60), [], 200),
    ('sliding-100/60s', 'header-quota-sliding', '--header-limit 100 --header-window 60s', 250, ('sliding', 100, 60), [], 200),
    # listing styles and item counts
    ('offset-20000', 'capacity', '--pagination offset', 20000, ('cap', 32, 0.02), [], 60),
    ('next_url-200-tb', 'header-quota-token-bucket', '--pagination next_url --header-limit 20 --header-window 1s --header-burst 5', 200, ('tb', 20, 5), [], 60),
    ('cursor-20000-quota', 'quota', '--pagination cursor --rate 1000 --burst 50', 20000, ('bucket', 1000, 50), [], 60),
    # a capacity that changes mid-crawl: halved at 3 s, whole again at 8 s (queue as given, 503 + Retry-After beyond)
    ('step-32q32-half', 'capacity', '--slots-at 3s=16,8s=32', 16000, ('capsched', 0.02, [(0, 32), (3, 16), (8, 32)]), [], 60),
    ('step-32q8-half', 'capacity', '--queue 8 --slots-at 3s=16,8s=32', 16000, ('capsched', 0.02, [(0, 32), (3, 16), (8, 32)]), [], 60),
    ('step-64q16-quarter', 'capacity', '--slots 64 --queue 16 --jitter 0s --slots-at 3s=16,8s=64', 24000, ('capsched', 0.02, [(0, 64), (3, 16), (8, 64)]), [], 60),
    # service times that drift over a long crawl: 20 -> 80 ms over 60 s, and 80 -> 20 ms
    ('drift-up-16x20ms+1ms/s', 'capacity', '--slots 16 --queue 16 --latency-drift 1ms', 22000, ('capdrift', 16, 0.02, 0.001), [], 120),
    ('drift-up-8x20ms+0.3ms/s', 'capacity', '--slots 8 --queue 8 --latency-drift 300us', 17000, ('capdrift', 8, 0.02, 0.0003), [], 120),
    ('drift-down-16x80ms-1ms/s', 'capacity', '--slots 16 --queue 16 --latency 80ms --jitter 5ms --latency-drift -1ms', 22000, ('capdrift', 16, 0.08, -0.001), [], 120),
    # bimodal: a tenth of the answers 10x slower (mean 38 ms at 20 ms)
    ('bimodal-32q32-10%x10', 'capacity', '--slow-share 0.1', 8000, ('cap', 32, 0.038), [], 60),
    ('bimodal-16q4-10%x10', 'capacity-tight', '--slow-share 0.1', 4000, ('cap', 16, 0.038), [], 60),
    ('bimodal-nolimit-10%x10', 'fast', '--latency 20ms --slow-share 0.1', 8000, ('none',), [], 60),
    ('bimodal-inflight-32-10%x10', 'inflight-429', '--slow-share 0.1', 8000, ('cap', 32, 0.038), [], 60),
    # a slow body: headers after 20 ms, the body trickled over 200 ms more, a slot held all along
    ('slowbody-32q32-200ms', 'capacity', '--slow-body 1 --slow-body-for 200ms', 1500, ('cap', 32, 0.2), [], 60),
    ('slowbody-16q4-200ms', 'capacity-tight', '--slow-body 1 --slow-body-for 200ms', 800, ('cap', 16, 0.2), [], 60),
    # Retry-After: 0, and Retry-After as an HTTP-date in the past
    ('ra0-tight-16q4', 'capacity-tight', '--retry-after-shift -1s', 4000, ('cap', 16, 0.02), [], 60),
    ('ra0-nohdr-50-b10', 'quota-no-headers', '--rate 50 --burst 10 --retry-after-shift -1s', 1000, ('bucket', 50, 10), [], 60),
    ('rapast-nohdr-50-b10', 'quota-no-headers', '--rate 50 --burst 10 --retry-after-date --retry-after-shift -5s', 1000, ('bucket', 50, 10), [], 60),
    ('ra0all-blackout-2s+5s', 'blackout', '--blackout-at 2s --blackout-for 5s --retry-after-shift -10s', 8000, ('cap', 32, 0.02, 5), [], 60),
    ('ra0-blackout-2s+5s', 'blackout', '--blackout-at 2s --blackout-for 5s --retry-after-shift -1s', 8000, ('cap', 32, 0.02, 5), [], 60),
    # 429 while the headers say Remaining > 0: a limit the headers do not describe (per endpoint, per IP, secondary)
    ('hidden-50-b10-under-tb1000', 'header-quota-token-bucket', '--header-limit 1000 --header-window 1s --header-burst 100 --rate 50 --burst 10 --quota-headers none', 1000, ('bucket', 50, 10), [], 60),
    ('hidden-bare-50-b10-under-tb1000', 'quota-no-retry-after', '--header-kind token-bucket --header-limit 1000 --header-window 1s --header-burst 100 --rate 50 --burst 10', 1000, ('bucket', 50, 10), [], 60),
    ('hidden-200-b20-under-fixed5000/10s', 'header-quota', '--header-limit 5000 --header-window 10s --rate 200 --burst 20 --quota-headers none', 4000, ('bucket', 200, 20), [], 60),
    # a quota and a capacity on one host
    ('capq-32q32-quota500', 'capacity', '--rate 500 --burst 10 --quota-headers none', 5000, ('bucket', 500, 10), [], 60),
    ('capq-8q8-quota600', 'capacity', '--slots 8 --queue 8 --rate 600 --burst 50 --quota-headers none', 4000, ('cap', 8, 0.02), [], 60),
    ('capq-16q4-hdrquota500', 'quota', '--slots 16 --queue 4 --latency 20ms --jitter 5ms --rate 500 --burst 20', 5000, ('bucket', 500, 20), [], 60),
    # a listing slower than the details: 1 s a page of 100
    ('slowlist-1s-page', 'capacity', '--listing-latency 1s', 1500, ('listing', 1.0, 100, True), [], 60),
    ('slowlist-1s-cursor', 'capacity', '--listing-latency 1s --pagination cursor', 1500, ('listing', 1.0, 100, False), [], 60),
    # many hosts unlike the bench's (session 12). Detail knobs --x-*: matrix.py's own (xknobs): --x-weight K or A-B
    # (K items a round of the listing, or drawn in A..B per host), --x-down-at S (the process is killed S s after
    # the crawl's start: connections refused), --x-sick 1 (not a healthy host); --servers N: N hosts from one process.
    # Capacities 1 + 4 + 64 slots in one listing, items in proportion (each host 2 s at its optimum) or equal
    ('hosts-1+4+64-prop', 'fast', '', 6900, ('hosts',), [
        ('capacity', '--slots 1 --queue 1 --latency 20ms --jitter 5ms'), ('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 4'),
        ('capacity', '--slots 64 --queue 64 --latency 20ms --jitter 5ms --x-weight 64')], 60),
    ('hosts-1+4+64-equal', 'fast', '', 600, ('hosts',), [
        ('capacity', '--slots 1 --queue 1 --latency 20ms --jitter 5ms'), ('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms'),
        ('capacity', '--slots 64 --queue 64 --latency 20ms --jitter 5ms')], 60),
    # a host at 1 s a request among seven fast ones (each fast host 1 s of work, the slow one 10 s)
    ('hosts-7+slow1s', 'fast', '', 1440, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 5')] * 7 + [
        ('capacity', '--slots 4 --queue 4 --latency 1s --jitter 0s --x-sick 1')], 90),
    # a header quota among capacity hosts (each host 3 s of work)
    ('hosts-3cap+fixed100/1s', 'fast', '', 3900, ('hosts',), [('capacity', '--slots 8 --queue 8 --latency 20ms --jitter 5ms --x-weight 4')] * 3 + [
        ('header-quota', '--header-limit 100 --header-window 1s')], 60),
    ('hosts-3cap+tb100-b10', 'fast', '', 3900, ('hosts',), [('capacity', '--slots 8 --queue 8 --latency 20ms --jitter 5ms --x-weight 4')] * 3 + [
        ('header-quota-token-bucket', '--header-limit 100 --header-window 1s --header-burst 10')], 60),
    ('hosts-3cap+nohdr100-b10', 'fast', '', 3900, ('hosts',), [('capacity', '--slots 8 --queue 8 --latency 20ms --jitter 5ms --x-weight 4')] * 3 + [
        ('quota-no-headers', '--rate 100 --burst 10')], 60),
    # the hosts above alone, for comparison (the same items)
    ('alone-cap-1x20ms-q1', 'capacity', '--slots 1 --queue 1 --latency 20ms --jitter 5ms', 100, ('cap', 1, 0.02), [], 60),
    ('alone-fixed-100/1s', 'header-quota', '--header-limit 100 --header-window 1s', 300, ('fixed', 100, 1), [], 60),
    ('alone-tb-100/1s-b10', 'header-quota-token-bucket', '--header-limit 100 --header-window 1s --header-burst 10', 300, ('tb', 100, 10), [], 60),
    ('alone-nohdr-100-b10', 'quota-no-headers', '--rate 100 --burst 10', 300, ('bucket', 100, 10), [], 60),
    # hundreds to thousands of short hosts, 1-5 items each, grouped (each host's items together) or spread
    ('hosts-200x1-5-grouped', 'fast', '', 0, ('hosts',), [('capacity', '--servers 200 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 1-5')], 90),
    ('hosts-200x1-5-spread', 'fast', '', 0, ('hosts', 'shuffle'), [('capacity', '--servers 200 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 1-5')], 90),
    ('hosts-2000x1-5-grouped', 'fast', '', 0, ('hosts',), [('capacity', '--servers 2000 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 1-5')], 120),
    ('hosts-2000x1-5-grouped-norobots', 'fast', '--x-robots off', 0, ('hosts',), [('capacity', '--servers 2000 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 1-5')], 120),
    ('hosts-2000x1-5-grouped-nolimit', 'fast', '', 0, ('hosts',), [('fast', '--servers 2000 --x-weight 1-5')], 120),
    ('hosts-2000x1-5-grouped-8proc', 'fast', '', 0, ('hosts',), [('capacity', '--servers 250 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 1-5')] * 8, 120),
    ('hosts-2000x1-5-spread', 'fast', '', 0, ('hosts', 'shuffle'), [('capacity', '--servers 2000 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 1-5')], 120),
    # hosts that go down mid-crawl (killed: connections refused from then on)
    ('hosts-7+down1s', 'fast', '', 1600, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms')] * 7 + [
        ('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-down-at 1')], 90),
    ('hosts-50+10down', 'fast', '', 6000, ('hosts',), [('capacity', '--servers 50 --slots 4 --queue 4 --latency 20ms --jitter 5ms'),
        ('capacity', '--servers 10 --slots 4 --queue 4 --latency 20ms --jitter 5ms --x-down-at 2')], 120),
    ('hosts-50+10', 'fast', '', 6000, ('hosts',), [('capacity', '--servers 50 --slots 4 --queue 4 --latency 20ms --jitter 5ms'),
        ('capacity', '--servers 10 --slots 4 --queue 4 --latency 20ms --jitter 5ms')], 120),
    # 20 and 30 hosts of 4 + 4 slots × 20 ms ± 25%, 2.5 s each at their optimum (4,000 and 6,000 requests/s asked), the
    # servers in one process apart from the crawl's: where in-process servers got refused at slow start's step from 8
    ('hosts-20-cap-j25', 'fast', '', 10000, ('hosts',), [('capacity', '--servers 20 --slots 4 --queue 4 --latency 20ms --jitter 5ms')], 120),
    ('hosts-30-cap-j25', 'fast', '', 15000, ('hosts',), [('capacity', '--servers 30 --slots 4 --queue 4 --latency 20ms --jitter 5ms')], 120),
    # single hosts at other latencies, slots and queues (each 2.5 s at its optimum where the client can go so fast)
    ('cap-32x2ms-q32', 'capacity', '--slots 32 --queue 32 --latency 2ms --jitter 1ms', 20000, ('cap', 32, 0.002), [], 60),
    ('cap-32x200ms-q32', 'capacity', '--slots 32 --queue 32 --latency 200ms --jitter 50ms', 400, ('cap', 32, 0.2), [], 60),
    ('cap-8x20ms-q4', 'capacity', '--slots 8 --queue 4 --latency 20ms --jitter 5ms', 1000, ('cap', 8, 0.02), [], 60),
    ('cap-8x20ms-q1', 'capacity', '--slots 8 --queue 1 --latency 20ms --jitter 5ms', 1000, ('cap', 8, 0.02), [], 60),
    ('cap-256x20ms-q128', 'capacity', '--slots 256 --queue 128 --latency 20ms --jitter 5ms', 25000, ('cap', 256, 0.02), [], 60),
    ('cap-256x20ms-q32', 'capacity', '--slots 256 --queue 32 --latency 20ms --jitter 5ms', 25000, ('cap', 256, 0.02), [], 60),
    ('cap-256x200ms-q32', 'capacity', '--slots 256 --queue 32 --latency 200ms --jitter 50ms', 3200, ('cap', 256, 0.2), [], 60),
    # quotas without headers at other rates and bursts
    ('nohdr-10-b1', 'quota-no-headers', '--rate 10 --burst 1', 200, ('bucket', 10, 1), [], 60),
    ('nohdr-10-b50', 'quota-no-headers', '--rate 10 --burst 50', 250, ('bucket', 10, 50), [], 60),
    ('nohdr-2-b10', 'quota-no-headers', '--rate 2 --burst 10', 60, ('bucket', 2, 10), [], 60),
    ('nohdr-5-b20', 'quota-no-headers', '--rate 5 --burst 20', 150, ('bucket', 5, 20), [], 60),
    ('nohdr-5-b50-50ms', 'quota-no-headers', '--rate 5 --burst 50 --latency 50ms', 200, ('bucket', 5, 50), [], 60),
    ('nohdr-20-b200', 'quota-no-headers', '--rate 20 --burst 200', 800, ('bucket', 20, 200), [], 60),
    ('nohdr-1000-b1', 'quota-no-headers', '--rate 1000 --burst 1', 12000, ('bucket', 1000, 1), [], 60),
    # bursts of 10 behind 20 ms at rates whose cold start ramps for many round trips: a crawl of about 10 s
    ('nohdr-200-b10-20ms', 'quota-no-headers', '--rate 200 --burst 10 --latency 20ms', 2000, ('bucket', 200, 10), [], 60),
    ('nohdr-700-b10-20ms', 'quota-no-headers', '--rate 700 --burst 10 --latency 20ms', 7000, ('bucket', 700, 10), [], 60),
    ('nohdr-1500-b10-20ms', 'quota-no-headers', '--rate 1500 --burst 10 --latency 20ms', 15000, ('bucket', 1500, 10), [], 60),
    # a Retry-After of 3-5 s on quotas of a few a second whose burst a cold start drains: crawls of about 30 s
    ('nohdr-5-b10-ra3', 'quota-no-headers', '--rate 5 --burst 10 --retry-after 3s', 160, ('bucket', 5, 10), [], 120),
    ('nohdr-10-b10-ra3', 'quota-no-headers', '--rate 10 --burst 10 --retry-after 3s', 310, ('bucket', 10, 10), [], 120),
    ('nohdr-7-b12-ra3-20ms', 'quota-no-headers', '--rate 7 --burst 12 --retry-after 3s --latency 20ms', 222, ('bucket', 7, 12), [], 120),
    ('nohdr-7-b8-ra5-20ms', 'quota-no-headers', '--rate 7 --burst 8 --retry-after 5s --latency 20ms', 218, ('bucket', 7, 8), [], 120),
    # Retry-After as an HTTP-date on a tight capacity and a quota at another rate
    ('radate-tight-16q4', 'capacity-tight', '--retry-after-date', 4000, ('cap', 16, 0.02), [], 60),
    ('radate-nohdr-200-b1', 'quota-no-headers', '--rate 200 --burst 1 --retry-after-date', 4000, ('bucket', 200, 1), [], 60),
    # X-RateLimit-Reset as seconds until the reset where the kind sends the Unix second, and the reverse
    ('fixed-50/1s-delta', 'header-quota', '--header-limit 50 --header-window 1s --header-reset delta', 1000, ('fixed', 50, 1), [], 60),
    ('fixed-300/10s-delta', 'header-quota', '--header-limit 300 --header-window 10s --header-reset delta', 1000, ('fixed', 300, 10), [], 60),
    ('sliding-300/10s-delta', 'header-quota-sliding', '--header-limit 300 --header-window 10s --header-reset delta', 1000, ('sliding', 300, 10), [], 60),
    ('fixed-50/1s-epochms', 'header-quota', '--header-limit 50 --header-window 1s --header-reset epoch-ms', 1000, ('fixed', 50, 1), [], 60),
    ('tb-20/1s-b5-epoch', 'header-quota-token-bucket', '--header-limit 20 --header-window 1s --header-burst 5 --header-reset epoch', 400, ('tb', 20, 5), [], 60),
    ('tb-300/1s-b50-epoch', 'header-quota-token-bucket', '--header-limit 300 --header-window 1s --header-burst 50 --header-reset epoch', 6000, ('tb', 300, 50), [], 60),
    # session 13. A capacity that halves or doubles at 3 s and stays so (the queue stays as it was)
    ('stay-32q32-halve', 'capacity', '--slots-at 3s=16', 8000, ('capsched', 0.02, [(0, 32), (3, 16)]), [], 60),
    ('stay-64q64-halve', 'capacity', '--slots 64 --queue 64 --slots-at 3s=32', 14000, ('capsched', 0.02, [(0, 64), (3, 32)]), [], 60),
    ('stay-32q4-halve', 'capacity', '--queue 4 --slots-at 3s=16', 8000, ('capsched', 0.02, [(0, 32), (3, 16)]), [], 60),
    ('stay-16q16-double', 'capacity', '--slots 16 --queue 16 --slots-at 3s=32', 8000, ('capsched', 0.02, [(0, 16), (3, 32)]), [], 60),
    ('stay-32q32-double', 'capacity', '--slots-at 3s=64', 12000, ('capsched', 0.02, [(0, 32), (3, 64)]), [], 60),
    # a concurrency cap and a quota without headers on one host: the quota binds (8 x 20 ms = 400/s), the cap binds (80/s)
    ('capq-8q8-quota100', 'capacity', '--slots 8 --queue 8 --rate 100 --burst 10 --quota-headers none', 1000, ('bucket', 100, 10), [], 60),
    ('capq-8x100ms-q8-quota100', 'capacity', '--slots 8 --queue 8 --latency 100ms --jitter 0s --rate 100 --burst 10 --quota-headers none', 600, ('cap', 8, 0.1), [], 60),
    ('nohdr-100-b10-1000', 'quota-no-headers', '--rate 100 --burst 10', 1000, ('bucket', 100, 10), [], 60),
    ('capq-8q0-quota100', 'capacity', '--slots 8 --queue 0 --rate 100 --burst 10 --quota-headers none', 1000, ('bucket', 100, 10), [], 60),
    # a listing of 0.5 s a page, details fast
    ('slowlist-0.5s-page', 'capacity', '--listing-latency 500ms', 2000, ('listing', 0.5, 100, True), [], 60),
    ('slowlist-0.5s-link', 'capacity', '--listing-latency 500ms --pagination link', 2000, ('listing', 0.5, 100, False), [], 60),
    # one host of eight sends Retry-After: 30 (longer than the others' work) or Retry-After: 0 for 3 s
    ('hosts-7+ra30', 'fast', '', 2880, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 10')] * 7 + [
        ('blackout', '--blackout-at 0s --blackout-for 1s --retry-after-shift 29s --slots 4 --queue 4 --x-sick 1')], 90),
    ('ra0-blackout-0s+3s', 'blackout', '--blackout-at 0s --blackout-for 3s --retry-after-shift -10s', 4000, ('cap', 32, 0.02, 3), [], 60),
    ('hosts-7-control', 'fast', '', 2800, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 10')] * 7, 90),
    ('hosts-7+ra0-3s', 'fast', '', 2880, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 10')] * 7 + [
        ('blackout', '--blackout-at 0s --blackout-for 3s --retry-after-shift -10s --slots 4 --queue 4 --x-sick 1')], 90),
    # a storm of 500s without Retry-After for 2 s, on a single host and on one host of eight
    ('storm500-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 500 --blackout-no-retry-after', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('hosts-7+storm500', 'fast', '', 3200, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 10')] * 7 + [
        ('capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 500 --blackout-no-retry-after --slots 4 --queue 4 --x-weight 10 --x-sick 1')], 90),
    # GitHub style: 403 + X-RateLimit-Remaining: 0 and no Retry-After, short windows
    ('fixed403-30/2s', 'header-quota', '--header-limit 30 --header-window 2s', 300, ('fixed', 30, 2), [], 60),
    ('fixed403-10/1s', 'header-quota', '--header-limit 10 --header-window 1s', 150, ('fixed', 10, 1), [], 60),
    # 500 ms and 2 ms service times
    ('cap-16x500ms-q16', 'capacity', '--slots 16 --queue 16 --latency 500ms --jitter 100ms', 160, ('cap', 16, 0.5), [], 60),
    ('cap-64x500ms-q64', 'capacity', '--slots 64 --queue 64 --latency 500ms --jitter 100ms', 640, ('cap', 64, 0.5), [], 60),
    ('cap-8x2ms-q8', 'capacity', '--slots 8 --queue 8 --latency 2ms --jitter 1ms', 10000, ('cap', 8, 0.002), [], 60),
    # a user who sets per-host limits: max_total 16 over four hosts of 8 + 8 (each then 4: 5 s, twice the hosts' ideal),
    # concurrency max 4 on one of two 32 + 32 hosts (it: 5 s at 200/s), a rate of 20/s on one of two fast hosts (5 s)
    ('user-maxtotal16-4x8q8', 'fast', '', 4000, ('hosts',), [('capacity', '--slots 8 --queue 8 --latency 20ms --jitter 5ms')] * 4, 60,
        'limits:\n  concurrency:\n    max_total: 16\n'),
    ('user-host-max4-2x32q32', 'fast', '', 2000, ('hosts',), [('capacity', '--latency 20ms --jitter 5ms')] * 2, 60,
        'hosts:\n  "{h0}":\n    concurrency:\n      max: 4\n'),
    # a user who starts high on a tight server, caps the rate under a quota, or caps Retry-After under a host's 30 s
    ('user-initial64-cap8q1', 'capacity', '--slots 8 --queue 1 --latency 20ms --jitter 5ms', 1000, ('cap', 8, 0.02), [], 60,
        'limits:\n  concurrency:\n    initial: 64\n'),
    ('user-rate50-nohdr100', 'quota-no-headers', '--rate 100 --burst 10', 500, ('bucket', 50, 10), [], 60, 'limits:\n  rate: 50\n'),
    ('user-ramax5-hosts-7+ra30', 'fast', '', 2880, ('hosts',), [('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 10')] * 7 + [
        ('blackout', '--blackout-at 0s --blackout-for 1s --retry-after-shift 29s --slots 4 --queue 4 --x-sick 1')], 90,
        'politeness:\n  retry_after_max: 5s\n'),
    ('user-host-rate20-2xfast', 'fast', '', 200, ('hosts',), [('fast', '')] * 2, 60,
        'hosts:\n  "{h0}":\n    rate: 20\n'),
    # session 14. Connection: close on every answer (no keep-alive), gzip, large answers, ids repeated across pages
    ('ctl-cap-32q32', 'capacity', '', 4000, ('cap', 32, 0.02), [], 60),
    ('ctl-cap-8x2ms-q8', 'capacity', '--slots 8 --queue 8 --latency 2ms --jitter 1ms', 10000, ('cap', 8, 0.002), [], 60),
    ('connclose-32q32', 'capacity', '--connection-close', 4000, ('cap', 32, 0.02), [], 60),
    ('connclose-16q4', 'capacity-tight', '--connection-close', 4000, ('cap', 16, 0.02), [], 60),
    ('connclose-8x2ms-q8', 'capacity', '--slots 8 --queue 8 --latency 2ms --jitter 1ms --connection-close', 10000, ('cap', 8, 0.002), [], 60),
    ('gzip-32q32', 'capacity', '--gzip --body-size 20000', 4000, ('cap', 32, 0.02), [], 60),
    ('body20k-32q32', 'capacity', '--body-size 20000', 4000, ('cap', 32, 0.02), [], 60),
    ('body1MB-4x100ms-q4', 'capacity', '--slots 4 --queue 4 --latency 100ms --jitter 20ms --body-size 1000000', 200, ('cap', 4, 0.1), [], 60),
    ('body1MB-16x20ms-q16', 'capacity', '--slots 16 --queue 16 --body-size 1000000', 400, ('cap', 16, 0.02), [], 60),
    ('body100k-32q32', 'capacity', '--body-size 100000', 4000, ('cap', 32, 0.02), [], 60),
    ('overlap10-32q32', 'capacity', '--page-overlap 10', 4000, ('cap', 32, 0.02), [], 60),
    ('overlap10-cursor', 'capacity', '--page-overlap 10 --pagination cursor', 4000, ('cap', 32, 0.02), [], 60),
    # a body dripped slowly on every answer (2 s), on a server of many slots: the slot is held all along
    ('slowbody-all-64x2s', 'capacity', '--slots 64 --queue 64 --slow-body 1 --slow-body-for 2s', 640, ('cap', 64, 2.02), [], 60),
    ('cap-64x2s-q64', 'capacity', '--slots 64 --queue 64 --latency 2s --jitter 0s', 640, ('cap', 64, 2.0), [], 60),
    # 503 with a Retry-After HTTP-date already past, on a tight server (the client must not read it as "now, all of you")
    ('rapast-tight-16q4', 'capacity-tight', '--retry-after-date --retry-after-shift -5s', 4000, ('cap', 16, 0.02), [], 60),
    ('rapast-8x20ms-q1', 'capacity', '--slots 8 --queue 1 --latency 20ms --jitter 5ms --retry-after-date --retry-after-shift -5s', 1000, ('cap', 8, 0.02), [], 60),
    # Crawl-delay in robots.txt: 0.1 s (10/s) on a server that could serve 1,600/s
    ('crawldelay-0.1s', 'capacity', '--crawl-delay 100ms', 100, ('bucket', 10, 1), [], 60),
    # Retry-After of an hour on a 429 (as seconds and as a date): capped at retry_after_max (5 min); the row stops at 20 s
    ('ra1h-nohdr-20-b5', 'quota-no-headers', '--rate 20 --burst 5 --retry-after 3600s', 300, ('bucket', 20, 5), [], 20),
    ('ra1hdate-nohdr-20-b5', 'quota-no-headers', '--rate 20 --burst 5 --retry-after 3600s --retry-after-date', 300, ('bucket', 20, 5), [], 20),
    # session 15: an inference-like API (answers of 1-19 s or 1-5 s, a concurrency cap answering 429 + Retry-After)
    ('infer-16x10s-429ra2', 'capacity', '--slots 16 --queue 0 --latency 10s --jitter 9s --capacity-status 429 --retry-after 2s', 64, ('cap', 16, 10.0), [], 120),
    ('infer-16x10s-429ra2-t30', 'capacity', '--slots 16 --queue 0 --latency 10s --jitter 9s --capacity-status 429 --retry-after 2s', 64, ('cap', 16, 10.0), [], 120,
     'limits:\n  timeout: 30s\n'),
    ('infer-32x1s-429ra1', 'capacity', '--slots 32 --queue 0 --latency 1s --jitter 800ms --capacity-status 429', 600, ('cap', 32, 1.0), [], 90),
    ('infer-32x3s-429ra1', 'capacity', '--slots 32 --queue 0 --latency 3s --jitter 2s --capacity-status 429', 320, ('cap', 32, 3.0), [], 90),
    ('infer-8x2s-q8-429ra5+quota2', 'capacity', '--slots 8 --queue 8 --latency 2s --jitter 1500ms --capacity-status 429 --retry-after 5s --rate 3 --burst 8 --quota-headers none', 90, ('bucket', 3, 8), [], 90),
    ('infer-inflight-8x5s-429ra', 'inflight-429', '--slots 8 --latency 5s --jitter 4s --capacity-no-retry-after=false --retry-after 3s', 48, ('cap', 8, 5.0), [], 90),
    # an elastic server: never refuses, service time x in-service/slots beyond its slots
    ('elastic-16x50ms', 'fast', '--latency 50ms --jitter 10ms --elastic-slots 16', 2000, ('cap', 16, 0.05), [], 60),
    ('elastic-64x20ms', 'fast', '--latency 20ms --jitter 5ms --elastic-slots 64', 8000, ('cap', 64, 0.02), [], 60),
    ('elastic-4x200ms', 'fast', '--latency 200ms --jitter 50ms --elastic-slots 4', 100, ('cap', 4, 0.2), [], 60),
    ('elastic-8x1s', 'fast', '--latency 1s --jitter 200ms --elastic-slots 8', 80, ('cap', 8, 1.0), [], 60),
    # a listing that answers 200 without its page on a first attempt: empty (linking on) or an error body
    ('glitch-empty-p5', 'capacity', '--page-glitch 5', 2000, ('cap', 32, 0.02), [], 60),
    ('glitch-empty-p5-cursor', 'capacity', '--page-glitch 5 --pagination cursor', 2000, ('cap', 32, 0.02), [], 60),
    ('glitch-empty-p5-link', 'capacity', '--page-glitch 5 --pagination link', 2000, ('cap', 32, 0.02), [], 60),
    ('glitch-error-p5', 'capacity', '--page-glitch 5 --page-glitch-kind error', 2000, ('cap', 32, 0.02), [], 60),
    ('glitch-error-p5-cursor', 'capacity', '--page-glitch 5 --page-glitch-kind error --pagination cursor', 2000, ('cap', 32, 0.02), [], 60),
    ('glitch-empty-p5x3', 'capacity', '--page-glitch 5,6,7 --page-glitch-attempts 3', 2000, ('cap', 32, 0.02), [], 60),
    # one server under 10 names (ports): each name its own host to the crawl, one capacity behind them
    ('shared10-32q32', 'fast', '', 4000, ('hosts',), [('capacity', '--servers 10 --shared')], 60),
    ('names1-16q4', 'fast', '', 2000, ('hosts',), [('capacity-tight', '--x-weight 2')], 60),
    ('names1-nohdr100-b10', 'fast', '', 1000, ('hosts',), [('quota-no-headers', '--x-weight 2')], 60),
    ('names2-16q4', 'fast', '', 2000, ('hosts',), [('capacity-tight', '--x-weight 2 --x-names 2')], 60),
    ('names2-nohdr100-b10', 'fast', '', 1000, ('hosts',), [('quota-no-headers', '--x-weight 2 --x-names 2')], 60),
    ('shared10-16q4', 'fast', '', 2000, ('hosts',), [('capacity-tight', '--servers 10 --shared')], 60),
    ('shared10-nohdr100-b10', 'fast', '', 1000, ('hosts',), [('quota-no-headers', '--servers 10 --shared')], 60),
    ('shared10-tb100-b20', 'fast', '', 1000, ('hosts',), [('header-quota-token-bucket', '--servers 10 --shared')], 60),
    # a quota shared by two names of one server (api.example.com and www.example.com/api)
    ('shared2-nohdr100-b10', 'fast', '', 1000, ('hosts',), [('quota-no-headers', '--servers 2 --shared')], 60),
    ('shared2-tb100-b20', 'fast', '', 1000, ('hosts',), [('header-quota-token-bucket', '--servers 2 --shared')], 60),
    ('shared2-16q4', 'fast', '', 2000, ('hosts',), [('capacity-tight', '--servers 2 --shared')], 60),
    # many hosts, 5 ms to 1 s answers (each host's optimum 5 s), one host gated for its first 3 s
    ('hosts-lat5ms-1s+gated', 'fast', '', 5760, ('hosts',), [
        ('capacity', '--slots 4 --queue 4 --latency 5ms --jitter 1ms --x-weight 200'), ('capacity', '--slots 4 --queue 4 --latency 20ms --jitter 5ms --x-weight 50'),
        ('capacity', '--slots 4 --queue 4 --latency 50ms --jitter 10ms --x-weight 20'), ('capacity', '--slots 4 --queue 4 --latency 100ms --jitter 20ms --x-weight 10'),
        ('capacity', '--slots 4 --queue 4 --latency 200ms --jitter 40ms --x-weight 5'), ('capacity', '--slots 4 --queue 4 --latency 500ms --jitter 100ms --x-weight 2'),
        ('capacity', '--slots 4 --queue 4 --latency 1s --jitter 200ms --x-weight 1'), ('blackout', '--blackout-at 0s --blackout-for 3s --x-weight 20')], 90),
    ('lat5ms-alone', 'capacity', '--slots 4 --queue 4 --latency 5ms --jitter 1ms', 4000, ('cap', 4, 0.005), [], 60),
    # many slow hosts: 100 hosts at 500 ms (8 items each, 1 s of work), 20 hosts at 2 s (16 items each, 8 s of work)
    ('hosts-100x500ms', 'fast', '', 0, ('hosts',), [('capacity', '--servers 100 --slots 4 --queue 4 --latency 500ms --jitter 100ms --x-weight 8')], 90),
    ('hosts-20x2s', 'fast', '', 0, ('hosts',), [('capacity', '--servers 20 --slots 4 --queue 4 --latency 2s --jitter 400ms --x-weight 16')], 90),
    # nginx's limit_req (a rate, 503 without Retry-After beyond its burst) and limit_conn (a concurrency cap, the same 503)
    ('nginx-limitreq-100-b10', 'quota-no-headers', '--rate 100 --burst 10 --quota-status 503 --quota-no-retry-after', 1000, ('bucket', 100, 10), [], 60),
    ('nginx-limitreq-20-b5', 'quota-no-headers', '--rate 20 --burst 5 --quota-status 503 --quota-no-retry-after', 400, ('bucket', 20, 5), [], 60),
    ('nginx-limitreq-300-b50', 'quota-no-headers', '--rate 300 --burst 50 --quota-status 503 --quota-no-retry-after', 6000, ('bucket', 300, 50), [], 60),
    ('nginx-limitconn-16x20ms', 'capacity', '--slots 16 --queue 0 --capacity-no-retry-after', 4000, ('cap', 16, 0.02), [], 60),
    # storms of 4xx that are not throttles, and of 500s, with and without a Retry-After
    ('storm408-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 408 --blackout-no-retry-after', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('storm408ra-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 408', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('storm403ra-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 403', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('storm425-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 425 --blackout-no-retry-after', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('storm429bare-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 429 --blackout-no-retry-after', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('storm500ra-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 500', 8000, ('cap', 32, 0.02, 2), [], 60),
    ('storm502-32q32-1s+2s', 'capacity', '--blackout-at 1s --blackout-for 2s --blackout-status 502 --blackout-no-retry-after', 8000, ('cap', 32, 0.02, 2), [], 60),
    # session 16. A capacity that halves and comes back every 10 s (a neighbour's batch job, time of day)
    ('diurnal-32x200ms-q8-10s', 'capacity', '--slots 32 --queue 8 --latency 200ms --jitter 50ms --slots-at 10s=16,20s=32,30s=16,40s=32,50s=16',
     4800, ('capsched', 0.2, [(0, 32), (10, 16), (20, 32), (30, 16), (40, 32), (50, 16)]), [], 90),
    ('diurnal-16x20ms-q4-10s', 'capacity', '--slots 16 --queue 4 --latency 20ms --jitter 5ms --slots-at 10s=8,20s=16,30s=8',
     12000, ('capsched', 0.02, [(0, 16), (10, 8), (20, 16), (30, 8)]), [], 90),
    # a CDN-like host: hits in 20 ms, misses (30% or 10%) 50x slower (1 s); 64 slots + 64 (mean 314 ms or 118 ms), or no limit
    ('cdn-64q64-30%miss1s', 'capacity', '--slots 64 --queue 64 --latency 20ms --jitter 5ms --slow-share 0.3 --slow-factor 50', 2000, ('cap', 64, 0.314), [], 60),
    ('cdn-64q64-10%miss1s', 'capacity', '--slots 64 --queue 64 --latency 20ms --jitter 5ms --slow-share 0.1 --slow-factor 50', 4000, ('cap', 64, 0.118), [], 60),
    ('cdn-64q64-30%miss200ms', 'capacity', '--slots 64 --queue 64 --latency 20ms --jitter 5ms --slow-share 0.3 --slow-factor 10', 4000, ('cap', 64, 0.074), [], 60),
    ('cdn-64q64-20%miss1s', 'capacity', '--slots 64 --queue 64 --latency 20ms --jitter 5ms --slow-share 0.2 --slow-factor 50', 2000, ('cap', 64, 0.216), [], 60),
    ('cdn-nolimit-10%miss1s', 'fast', '--latency 20ms --jitter 5ms --slow-share 0.1 --slow-factor 50', 4000, ('none',), [], 60),
    # an API with a header quota and a concurrency cap, both refused with 429 (the cap's 429 carries the quota's
    # headers with Remaining > 0): the quota binds (16 x 20 ms = 800/s > 500/s), or the cap binds (8 x 20 ms = 400/s < 600/s)
    ('capq429-16q0-hdr500', 'quota', '--slots 16 --queue 0 --latency 20ms --jitter 5ms --capacity-status 429 --rate 500 --burst 20', 5000, ('bucket', 500, 20), [], 60),
    ('capq429-8q0-hdr600-bare', 'quota', '--slots 8 --queue 0 --latency 20ms --jitter 5ms --capacity-status 429 --capacity-no-retry-after --rate 600 --burst 50', 4000, ('cap', 8, 0.02), [], 60),
    # a listing whose pages sometimes answer 500 on their first attempts (one in five pages; twice for a cursor)
    ('page500-p5-page', 'capacity', '--page-glitch 2,7,12,17,22,27,32,37 --page-glitch-kind 500', 4000, ('cap', 32, 0.02), [], 60),
    ('page500-p5x2-cursor', 'capacity', '--pagination cursor --page-glitch 2,7,12,17,22,27,32,37 --page-glitch-kind 500 --page-glitch-attempts 2', 4000, ('cap', 32, 0.02), [], 60),
    # items that move to another host (302): from the start, or at 2 s; the host behind is tight (16 + 4) or 4 slots at 200 ms
    ('redirect-fast->tight16q4', 'fast', '', 4000, ('hosts', 'redirect'), [('capacity-tight', '')], 60),
    ('redirect-at2s-cap32->tight16q4', 'capacity', '--redirect-at 2s', 6000, ('hosts', 'redirect'), [('capacity-tight', '')], 60),
    ('redirect-at2s-cap32->4x200ms-q4', 'capacity', '--redirect-at 2s', 2700, ('hosts', 'redirect'), [('capacity', '--slots 4 --queue 4 --latency 200ms --jitter 50ms')], 60),
    # one sick backend behind a load balancer: a share of detail requests refused whatever the load (503 + Retry-After: 1,
    # a bare 503 or a bare 429), on 32 + 32 x 20 ms and on 16 + 16 x 200 ms
    ('sick1%-32q32', 'capacity', '--refuse-share 0.01', 4000, ('cap', 32, 0.02), [], 60),
    ('sick1%-bare-32q32', 'capacity', '--refuse-share 0.01 --capacity-no-retry-after', 4000, ('cap', 32, 0.02), [], 60),
    ('sick5%-bare-32q32', 'capacity', '--refuse-share 0.05 --capacity-no-retry-after', 4000, ('cap', 32, 0.02), [], 60),
    ('sick1%-bare429-32q32', 'capacity', '--refuse-share 0.01 --capacity-status 429 --capacity-no-retry-after', 4000, ('cap', 32, 0.02), [], 60),
    ('sick2%-bare-16x200ms-q16', 'capacity', '--slots 16 --queue 16 --latency 200ms --jitter 50ms --refuse-share 0.02 --capacity-no-retry-after', 800, ('cap', 16, 0.2), [], 60),
    # keep-alive limits: a connection closed after 100 requests (nginx's default is 1000) or after 10
    ('ctl-tight-16q4', 'capacity-tight', '', 4000, ('cap', 16, 0.02), [], 60),
    ('keepalive100-32q32', 'capacity', '--keepalive-requests 100', 4000, ('cap', 32, 0.02), [], 60),
    ('keepalive10-32q32', 'capacity', '--keepalive-requests 10', 4000, ('cap', 32, 0.02), [], 60),
    ('keepalive10-8x2ms-q8', 'capacity', '--slots 8 --queue 8 --latency 2ms --jitter 1ms --keepalive-requests 10', 10000, ('cap', 8, 0.002), [], 60),
    ('keepalive10-16q4', 'capacity-tight', '--keepalive-requests 10', 4000, ('cap', 16, 0.02), [], 60),
    # session 18. A share of requests that hang (the server answers after 20 s, past the default 10 s timeout; the client's
    # give-up frees the slot): 1% on a server with no limit, 0.5% on 32 + 32 x 20 ms; the control is ctl-32q32
    ('hang1%-nolimit-20s', 'fast', '--latency 20ms --jitter 5ms --slow-share 0.01 --slow-factor 1000', 4000, ('none',), [], 90),
    ('hang0.5%-32q32-20s', 'capacity', '--slow-share 0.005 --slow-factor 1000', 4000, ('cap', 32, 0.02), [], 90),
    # a quota of 600 a minute in headers (X-RateLimit-* or IETF) while the crawl's 500 items fit in it
    ('fixed-600/60s-500', 'header-quota', '--header-limit 600 --header-window 60s', 500, ('fixed', 600, 60), [], 90),
    ('ietfw-fixed-600/60s-500', 'header-quota', '--header-ietf --header-limit 600 --header-window 60s', 500, ('fixed', 600, 60), [], 90),
    # a fixed window stated only in the API's docs: no quota headers, 429 + Retry-After until the window's end
    # (--header-hidden); per second, per 10 s, and per minute with the crawl fitting in it
    ('hidden-fixed-50/1s', 'header-quota', '--header-hidden --header-limit 50 --header-window 1s', 1000, ('fixed', 50, 1), [], 60),
    ('hidden-fixed-100/10s', 'header-quota', '--header-hidden --header-limit 100 --header-window 10s', 400, ('fixed', 100, 10), [], 60),
    ('hidden-fixed-600/60s-500', 'header-quota', '--header-hidden --header-limit 600 --header-window 60s', 500, ('fixed', 600, 60), [], 90),
    # a stale listing: nine items in ten deleted since (404 at once), on 32 + 32 x 20 ms and on 16 + 16 x 200 ms; the
    # listing's pages, one after another at the server's latency, are the ideal (the 200s alone are less)
    ('missing90%-32q32', 'capacity', '--missing-share 0.9', 8000, ('listing', 0.02, 100, True), [], 60),
    ('missing90%-16x200ms-q16', 'capacity', '--slots 16 --queue 16 --latency 200ms --jitter 50ms --missing-share 0.9', 2000, ('listing', 0.2, 100, True), [], 60),
    # session 21: a sweep over parameters no row above uses (run them all with --rows '^sweep-'). Capacity rows 2.5 s at
    # the optimum; quota rows about 20 s; each bounded at 40-45 s. Capacity: 2, 128 and 256 slots; 1, 50 and 300 ms;
    # queue 0, slots/4 and slots; jitter 0 and as wide as the latency
    ('sweep-cap-2x20ms-q2', 'capacity', '--slots 2 --queue 2 --latency 20ms --jitter 5ms', 250, ('cap', 2, 0.02), [], 40),
    ('sweep-cap-2x20ms-q2-j0', 'capacity', '--slots 2 --queue 2 --latency 20ms --jitter 0s', 250, ('cap', 2, 0.02), [], 40),
    ('sweep-cap-3x100ms-q1-j0', 'capacity', '--slots 3 --queue 1 --latency 100ms --jitter 0s', 75, ('cap', 3, 0.1), [], 40),
    ('sweep-cap-2x50ms-q0', 'capacity', '--slots 2 --queue 0 --latency 50ms --jitter 10ms', 100, ('cap', 2, 0.05), [], 40),
    ('sweep-cap-2x300ms-q2', 'capacity', '--slots 2 --queue 2 --latency 300ms --jitter 50ms', 20, ('cap', 2, 0.3), [], 40),
    ('sweep-cap-2x1ms-q0', 'capacity', '--slots 2 --queue 0 --latency 1ms --jitter 0s', 5000, ('cap', 2, 0.001), [], 40),
    ('sweep-cap-4x1ms-q4', 'capacity', '--slots 4 --queue 4 --latency 1ms --jitter 0s', 10000, ('cap', 4, 0.001), [], 40),
    ('sweep-cap-32x50ms-q8', 'capacity', '--slots 32 --queue 8 --latency 50ms --jitter 10ms', 1600, ('cap', 32, 0.05), [], 40),
    ('sweep-cap-16x20ms-q4-j0', 'capacity', '--slots 16 --queue 4 --latency 20ms --jitter 0s', 2000, ('cap', 16, 0.02), [], 40),
    ('sweep-cap-16x20ms-q4-j20', 'capacity', '--slots 16 --queue 4 --latency 20ms --jitter 20ms', 2000, ('cap', 16, 0.02), [], 40),
    ('sweep-cap-16x20ms-q4-j5', 'capacity', '--slots 16 --queue 4 --latency 20ms --jitter 5ms', 2000, ('cap', 16, 0.02), [], 40),
    ('sweep-cap-16x20ms-q0', 'capacity', '--slots 16 --queue 0 --latency 20ms --jitter 5ms', 2000, ('cap', 16, 0.02), [], 40),
    ('sweep-cap-32x20ms-q0', 'capacity', '--slots 32 --queue 0 --latency 20ms --jitter 5ms', 4000, ('cap', 32, 0.02), [], 40),
    ('sweep-cap-32x20ms-q32-j20', 'capacity', '--slots 32 --queue 32 --latency 20ms --jitter 20ms', 4000, ('cap', 32, 0.02), [], 40),
    # the same at 50 ms: 6 of 20 crawls of 3,000 items were killed at 60 s on 9f7bf81 (a host held at 1-2 requests)
    ('sweep-cap-32x50ms-q32-j50', 'capacity', '--slots 32 --queue 32 --latency 50ms --jitter 50ms', 1600, ('cap', 32, 0.05), [], 40),
    ('sweep-cap-32x20ms-q32-j10', 'capacity', '--slots 32 --queue 32 --latency 20ms --jitter 10ms', 4000, ('cap', 32, 0.02), [], 40),
    ('sweep-cap-64x50ms-q0-j50', 'capacity', '--slots 64 --queue 0 --latency 50ms --jitter 50ms', 3200, ('cap', 64, 0.05), [], 40),
    ('sweep-cap-128x50ms-q128', 'capacity', '--slots 128 --queue 128 --latency 50ms --jitter 10ms', 6400, ('cap', 128, 0.05), [], 40),
    ('sweep-cap-128x50ms-q32', 'capacity', '--slots 128 --queue 32 --latency 50ms --jitter 10ms', 6400, ('cap', 128, 0.05), [], 40),
    ('sweep-cap-128x300ms-q0', 'capacity', '--slots 128 --queue 0 --latency 300ms --jitter 50ms', 1100, ('cap', 128, 0.3), [], 40),
    ('sweep-cap-256x300ms-q256', 'capacity', '--slots 256 --queue 256 --latency 300ms --jitter 50ms', 2200, ('cap', 256, 0.3), [], 40),
    ('sweep-cap-256x100ms-q64', 'capacity', '--slots 256 --queue 64 --latency 100ms --jitter 20ms', 6400, ('cap', 256, 0.1), [], 40),
    # session 22: tight servers at long service times, where slow start steps further per window (a refusal's 1 s
    # gate is a few round trips there)
    ('sweep-cap-16x300ms-q4', 'capacity', '--slots 16 --queue 4 --latency 300ms --jitter 50ms', 133, ('cap', 16, 0.3), [], 40),
    ('sweep-cap-32x300ms-q8', 'capacity', '--slots 32 --queue 8 --latency 300ms --jitter 50ms', 267, ('cap', 32, 0.3), [], 40),
    ('sweep-cap-64x200ms-q16', 'capacity', '--slots 64 --queue 16 --latency 200ms --jitter 40ms', 800, ('cap', 64, 0.2), [], 40),
    ('sweep-cap-32x100ms-q8', 'capacity', '--slots 32 --queue 8 --latency 100ms --jitter 20ms', 800, ('cap', 32, 0.1), [], 40),
    # an in-flight cap answering 429 without Retry-After: 8 and 200 in flight at 5 and 100 ms (200 x 5 ms is beyond
    # the client's own ceiling: judged on its refusals)
    ('sweep-inflight-8x100ms', 'inflight-429', '--slots 8 --latency 100ms --jitter 20ms', 200, ('cap', 8, 0.1), [], 40),
    ('sweep-inflight-200x100ms', 'inflight-429', '--slots 200 --latency 100ms --jitter 20ms', 5000, ('cap', 200, 0.1), [], 40),
    ('sweep-inflight-200x5ms', 'inflight-429', '--slots 200 --latency 5ms --jitter 1ms', 12000, ('cap', 200, 0.005), [], 40),
    # quotas without headers (429 + Retry-After in whole seconds): rates 1 to 2,000 a second, bursts 1, 3 and 50,
    # Retry-After 2 s and 10 s where the server would say 1 s
    ('sweep-nohdr-1-b1', 'quota-no-headers', '--rate 1 --burst 1', 25, ('bucket', 1, 1), [], 45),
    ('sweep-nohdr-7-b3', 'quota-no-headers', '--rate 7 --burst 3', 150, ('bucket', 7, 3), [], 45),
    ('sweep-nohdr-50-b3', 'quota-no-headers', '--rate 50 --burst 3', 1000, ('bucket', 50, 3), [], 45),
    ('sweep-nohdr-500-b50', 'quota-no-headers', '--rate 500 --burst 50', 10000, ('bucket', 500, 50), [], 45),
    ('sweep-nohdr-500-b1', 'quota-no-headers', '--rate 500 --burst 1', 10000, ('bucket', 500, 1), [], 45),
    ('sweep-nohdr-2000-b50', 'quota-no-headers', '--rate 2000 --burst 50', 20000, ('bucket', 2000, 50), [], 45),
    ('sweep-nohdr-50-b10-ra2', 'quota-no-headers', '--rate 50 --burst 10 --retry-after 2s', 1000, ('bucket', 50, 10), [], 45),
    ('sweep-nohdr-50-b10-ra10', 'quota-no-headers', '--rate 50 --burst 10 --retry-after 10s', 1000, ('bucket', 50, 10), [], 45),
    # header quotas: fixed windows of 5/1 s, 100/10 s and 600/60 s (a crawl that fits), sliding 50/1 s and 1000/60 s
    # (a crawl that fits), token buckets of 2/s burst 1 and 500/s burst 50
    ('sweep-fixed-5/1s', 'header-quota', '--header-limit 5 --header-window 1s', 100, ('fixed', 5, 1), [], 45),
    ('sweep-fixed-100/10s', 'header-quota', '--header-limit 100 --header-window 10s', 250, ('fixed', 100, 10), [], 45),
    ('sweep-fixed-600/60s-300', 'header-quota', '--header-limit 600 --header-window 60s', 300, ('fixed', 600, 60), [], 40),
    ('sweep-sliding-50/1s', 'header-quota-sliding', '--header-limit 50 --header-window 1s', 600, ('sliding', 50, 1), [], 40),
    ('sweep-sliding-1000/60s-800', 'header-quota-sliding', '--header-limit 1000 --header-window 60s', 800, ('sliding', 1000, 60), [], 40),
    ('sweep-tb-2/1s-b1', 'header-quota-token-bucket', '--header-limit 2 --header-window 1s --header-burst 1', 40, ('tb', 2, 1), [], 45),
    ('sweep-tb-500/1s-b50', 'header-quota-token-bucket', '--header-limit 500 --header-window 1s --header-burst 50', 10000, ('tb', 500, 50), [], 45),
    # a blackout announced with a Retry-After date (503 from the start for 5 s; 429 for 3 s after 1 s), a slow listing
    ('sweep-blackout-date-0s+5s', 'blackout', '--blackout-at 0s --blackout-for 5s --retry-after-date', 4000, ('cap', 32, 0.02, 5), [], 40),
    ('sweep-blackout429-date-1s+3s', 'blackout', '--blackout-at 1s --blackout-for 3s --blackout-status 429 --retry-after-date', 4000, ('cap', 32, 0.02, 3), [], 40),
    ('sweep-slowlist-2s-page', 'capacity', '--listing-latency 2s', 500, ('listing', 2.0, 100, True), [], 40),
    ('sweep-slowlist-200ms-16q4', 'capacity-tight', '--listing-latency 200ms', 2000, ('listing', 0.2, 100, True), [], 40),
    # the same slow listing announcing its item count ("total"), and a page answered empty once mid-listing with it
    ('sweep-slowlist-2s-page-total', 'capacity', '--listing-latency 2s --announce-total', 500, ('listing', 2.0, 100, True), [], 40),
    ('sweep-glitch-empty-p5-total', 'capacity', '--page-glitch 5 --announce-total', 2000, ('cap', 32, 0.02), [], 40),
]


def ideal(model, n, dur, t0, ran=0.0):
    """The least seconds the server allows for n 2xx answers, from a fresh server at unix time t0 (ran: the
    seconds the server had run by then, for servers that change with time)."""
    k = model[0]
    if k == 'capsched':  # latency, [(from s, slots)]: integrate the capacity from the crawl's start
        lat, steps = model[1], model[2]
        t, left = ran, float(n)
        for i, (at, slots) in enumerate(steps):
            end = steps[i + 1][0] if i + 1 < len(steps) else math.inf
            if end <= t:
                continue
            rate = slots / lat
            if left <= rate * (end - t):
                return t + left / rate - ran
            left -= rate * (end - t)
            t = end
    if k == 'capdrift':  # slots, latency at the server's start, drift in s per s: n = slots/d * ln(l(T)/l(ran))
        slots, l0, d = model[1], model[2] + model[3] * ran, model[3]
        return n * l0 / slots if d == 0 else l0 * (math.exp(n * d / slots) - 1) / d
    if k == 'listing':  # page s, per page, an empty page after the last: the pages one after another
        return (math.ceil(n / model[2]) + (1 if model[3] else 0)) * model[1]
    if k == 'cap':  # a fourth member is a blackout's length, during which nothing is served
        return n / (model[1] / model[2]) + (model[3] if len(model) > 3 else 0)
    if k in ('bucket', 'tb'):
        return max(0, n - model[2]) / model[1]
    if k == 'fixed':
        lim, w = model[1], model[2]
        windows = math.ceil(n / lim)
        return max(0.0, (math.floor(t0 / w) + windows - 1) * w - t0)
    if k == 'sliding':  # the first window allows limit; after its end, limit/window
        lim, w = model[1], model[2]
        if n <= lim:
            return 0.0
        return (math.floor(t0 / w) + 1) * w - t0 + (n - lim) / (lim / w)
    return 0.0


# The rows `matrix.py BIN` runs without --rows: one or two of each class, about 10 minutes in all.
QUICK = ['cap-4x2ms-q0', 'cap-8x5ms-q1', 'cap-64x20ms-q8', 'inflight-64x20ms', 'nohdr-3-b1', 'nohdr-300-b5',
         'bare429-20-b5', 'nohdr-20-ra5', 'ietf-20-b5', 'fixed-50/1s', 'sliding-300/10s', 'tb-20/1s-b5',
         'blackout-2s+5s', 'blackout-date-1s+3s', 'faults-seed7', 'cursor-200', 'hosts-mixed4', 'hosts-8-slow']


def self_test():
    """Checks the ideal times against figures worked by hand."""
    assert ideal(('cap', 32, 0.02), 3200, 0, 0) == 2.0
    assert ideal(('cap', 32, 0.02, 3), 3200, 0, 0) == 5.0
    assert ideal(('bucket', 100, 10), 1010, 0, 0) == 10.0
    assert ideal(('bucket', 100, 10), 5, 0, 0) == 0
    assert ideal(('fixed', 50, 1), 50, 0, 100.25) == 0       # fits the first window
    assert abs(ideal(('fixed', 50, 1), 120, 0, 100.25) - 1.75) < 1e-9  # the third window starts at 102
    assert abs(ideal(('sliding', 300, 10), 600, 0, 104) - 16.0) < 1e-9  # 6 s to the first window's end, then 10 s
    assert abs(started({'started': '2026-11-30T13:25:49.123456789Z'}) - 1796045149.123456789) < 1e-6
    assert abs(started({'started': '2026-11-30T14:25:49+01:00'}) - 1796045149) < 1e-6
    assert host_model('capacity', '--slots 8 --latency 5ms') == ('cap', 8, 0.005, 0)
    assert host_model('blackout', '--blackout-at 0s --blackout-for 3s') == ('cap', 32, 0.02, 3.0)
    assert host_model('blackout', '--blackout-for 3s') == ('cap', 32, 0.02, 4.0)  # the preset's blackout starts at 1 s
    assert host_model('blackout', '--blackout-at 0s --blackout-for 3s', {'started': '2026-11-30T13:25:49Z'}, 1796045150.5) == ('cap', 32, 0.02, 1.5)
    assert host_model('quota-no-headers', '--rate 50 --burst 5') == ('bucket', 50.0, 5)
    assert host_model('header-quota', '--header-limit 100 --header-window 1s') == ('fixed', 100, 1.0)
    assert [e[4] for e in expand([('capacity', '--servers 3 --x-weight 2'), ('capacity', '--x-weight 1-5 --x-sick 1')])] == [2, 2, 2, 2]  # seed 1 draws 2 from 1..5
    assert xknobs('--slots 4 --x-down-at 1 --queue 4') == ('--slots 4 --queue 4', {'down-at': '1'})
    assert host_model('header-quota-token-bucket', '--header-limit 600 --header-window 60s --header-burst 10') == ('tb', 10.0, 10)
    assert abs(ideal(('capsched', 0.02, [(0, 32), (3, 16), (8, 32)]), 1600 * 3 + 800 * 5 + 1600, 0, 0) - 9.0) < 1e-9
    assert abs(ideal(('capsched', 0.02, [(0, 32), (3, 16), (8, 32)]), 800, 0, 0, 4.0) - 1.0) < 1e-9  # from 4 s: 800/s
    assert abs(ideal(('capdrift', 16, 0.02, 0.001), 16000 * math.log(4), 0, 0) - 60.0) < 1e-9  # 20 -> 80 ms
    assert abs(ideal(('capdrift', 16, 0.02, 0), 800, 0, 0) - 1.0) < 1e-9
    assert ideal(('listing', 1.0, 100, True), 1500, 0, 0) == 16.0
    assert owed({'error': 'disallowed by robots.txt', 'status': 0, 'url': 'http://h/private/items/50'}, set(), (), 50)
    assert not owed({'error': 'GET http://h/items/7: http 429 Too Many Requests: retry after x', 'status': 429, 'url': 'http://h/items/7'}, set(), ('http://h',), 7)
    assert not owed({'error': 'GET http://h/items/7: http 500 Internal Server Error', 'status': 500, 'url': 'http://h/items/7'}, set(), (), 7)
    assert owed({'error': 'GET http://h/items/7: http 500 Internal Server Error', 'status': 500, 'url': 'http://h/items/7'}, {7}, (), 7)
    assert all(any(r[0] == q for r in ROWS) for q in QUICK), 'QUICK names a row that does not exist'
    assert len({r[0] for r in ROWS}) == len(ROWS), 'two rows share a name'
    print('self-test ok')


# --tls: every mock serves HTTPS (HTTP/2 offered) and writes its certificate into TLS_DIR; the crawl and
# the ground truth's reads trust their bundle (SSL_CERT_FILE).
TLS_DIR = None
TLS_CTX = None


def tls_bundle():
    """The certificates of the mocks started so far, in one file, and an SSL context that trusts them."""
    global TLS_CTX
    path = os.path.join(TLS_DIR, 'bundle.pem')
    with open(path, 'w') as b:
        for f in sorted(os.listdir(TLS_DIR)):
            if f.startswith('mock-'):
                b.write(open(os.path.join(TLS_DIR, f)).read())
    TLS_CTX = ssl.create_default_context(cafile=path)
    return path


def start_mock(binary, scenario, knobs, items=None, hosts=None):
    """Starts one mock process; with --servers N in knobs it serves N hosts. Returns the process and its URLs."""
    args = [binary, 'mock', '--scenario', scenario] + knobs.split()
    if items is not None and '--items' not in knobs:
        args += ['--items', str(items)]
    if hosts:
        args += ['--detail-hosts', ','.join(('https://' + h if TLS_DIR else h) for h in hosts)]
    if TLS_DIR:
        args += ['--tls', '--tls-cert', tempfile.mktemp(prefix='mock-', suffix='.pem', dir=TLS_DIR)]
    n = int(re.search(r'--servers (\d+)', knobs).group(1)) if '--servers ' in knobs else 1
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    urls = []
    if TLS_DIR:
        p.stdout.readline()  # where the certificate is
    for _ in range(n):
        line = p.stdout.readline()
        m = re.search(r'at (https?://\S+) ', line)
        if not m:
            p.kill()
            raise RuntimeError(f'mock did not start: {args}: {line} {p.stderr.read()}')
        urls.append(m.group(1))
    return p, urls


def xknobs(knobs):
    """Splits matrix.py's own knobs (--x-NAME VALUE: weight, down-at, sick) from the mock's."""
    x = dict(re.findall(r'--x-(\S+) (\S+)', knobs))
    return re.sub(r'\s*--x-\S+ \S+', '', knobs).strip(), x


def expand(detail, seed=1):
    """The detail hosts of a row, one entry per host: (group index, scenario, knobs, x, weight). A group's
    --servers N makes N hosts; --x-weight K or A-B gives each host K items a round (A..B drawn by seed)."""
    rng, out = random.Random(seed), []
    for g, (sc, kn) in enumerate(detail):
        kn, x = xknobs(kn)
        n = int(re.search(r'--servers (\d+)', kn).group(1)) if '--servers ' in kn else 1
        for _ in range(n):
            w = x.get('weight', '1')
            w = rng.randint(*map(int, w.split('-'))) if '-' in w else int(w)
            out.append((g, sc, kn, x, w))
    return out


def when(ts):
    """A Stats time as unix seconds, or None for Go's zero time."""
    return None if not ts or ts.startswith('0001-') else started({'started': ts})


def stats(url):
    return json.load(urllib.request.urlopen(url + '/__stats', timeout=5, context=TLS_CTX))


def run(binary, row, mockbin, lock, t90_poll=False, trace=False):
    name, scenario, knobs, items, model, detail, limit = row[:7]
    extra = row[7] if len(row) > 7 else ''  # YAML a user adds; {h0}, {h1}...: the detail hosts' host:port in order
    d = tempfile.mkdtemp(prefix='matrix-')
    mocks, procs = [], {}
    lockf = None
    if lock:  # held from the mocks' start: their blackouts and windows run from then
        lockf = open('/tmp/politely-measure.lock', 'a')
        fcntl.flock(lockf, fcntl.LOCK_EX)
    try:
        ex = expand(detail)
        if not items:  # one item per host and weight: each host's items once round the listing
            items = sum(e[4] for e in ex)
        for g, (sc, kn) in enumerate(detail):
            procs[g] = start_mock(mockbin, sc, xknobs(kn)[0], items)
        hosts, seen, addrs = [], {}, []
        for g, sc, kn, x, w in ex:
            k = seen[g] = seen.get(g, -1) + 1
            p, urls = procs[g]
            mocks.append((p, urls[k], sc, kn, x))
            a = re.sub(r'^https?://', '', urls[k])
            addrs.append(a)
            # --x-names 2: the host's items alternate between its two names, 127.0.0.1 and localhost
            hosts += [a if j % 2 == 0 or x.get('names') != '2' else a.replace('127.0.0.1', 'localhost') for j in range(w)]
        if len(model) > 1 and model[1] == 'shuffle':  # each host's items spread over the listing
            random.Random(2).shuffle(hosts)
        knobs, xmain = xknobs(knobs)  # --x-robots off: the one row setting that is not a default (a diagnosis)
        if model[1:2] == ('redirect',):  # the items on the main mock, which answers them 302 to the first detail host
            knobs, hosts = f"{knobs} --redirect-to {'https://' if TLS_DIR else ''}{addrs[0]}", None
        p, (url,) = start_mock(mockbin, scenario, knobs, items, hosts)
        mocks.insert(0, (p, url, scenario, knobs, {}))
        style = re.search(r'--pagination (\S+)', knobs)
        style = style.group(1) if style else 'page'
        pag = {'page': '{style: page}', 'offset': '{style: offset, param: offset}',
               'cursor': '{style: cursor, param: cursor, cursor_field: next_cursor}',
               'link': '{style: link}', 'next_url': '{style: next_url, next_field: next}'}[style]
        open(f'{d}/c.yaml', 'w').write(f'''user_agent: "matrix/1.0"
source:
  url: "{url}/items?per_page=100"
  pagination: {pag}
  items_field: items
task:
  url: "{{+detail_path}}"
output: {d}/out.jsonl
''' + ('politeness:\n  robots: false\n' if xmain.get('robots') == 'off' else '')
            + extra.format(**{f'h{i}': a for i, a in enumerate(addrs)}))
        samples, stop = [], [False]

        def poll():
            while not stop[0]:
                try:
                    st = stats(url)
                    samples.append((time.monotonic(), int(st['by_status'].get('200', 0)), st['throttled'] if 'throttled' in st else
                                    sum(int(v) for c, v in st['by_status'].items() if c in ('429', '503', '403')),
                                    sum(int(v) for c, v in st['by_status'].items() if c.startswith('5') and c != '503'), st['in_flight']))
                except Exception:
                    pass
                time.sleep(0.1)
        th = threading.Thread(target=poll if (model[0] == 'cap' and t90_poll) or trace else (lambda: None))
        cmd = [binary, 'crawl', '-c', f'{d}/c.yaml', '--quiet', '--stats', f'{d}/s.json']
        env = dict(os.environ, SSL_CERT_FILE=tls_bundle()) if TLS_DIR else None
        load = open('/proc/loadavg').read().split()[0]
        t0m, t0 = time.monotonic(), time.time()
        th.start()
        stalled = False
        downs, final = [], {}  # hosts that go down mid-crawl: their ground truth is read just before
        for g in sorted({e[0] for e in ex if 'down-at' in e[3]}):
            at = float(ex[[e[0] for e in ex].index(g)][3]['down-at'].rstrip('s'))

            def down(g=g):
                for m in mocks[1:]:
                    if m[0] is procs[g][0]:
                        final[m[1]] = stats(m[1])
                procs[g][0].kill()
            downs.append(threading.Timer(at, down))
        with open(f'{d}/stderr', 'w') as errf:
            cr = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, env=env)
            for tm in downs:
                tm.start()
            try:
                rc = cr.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                cr.kill(); cr.wait(); rc, stalled = 'killed', True
        wall = time.monotonic() - t0m
        stop[0] = True; th.join()
        for tm in downs:
            tm.cancel()
            tm.join()
        sts = [final[m[1]] if m[1] in final else stats(m[1]) for m in mocks]
        s = json.load(open(f'{d}/s.json')) if os.path.exists(f'{d}/s.json') else {}
        dur = s.get('duration_s', wall)
        ids, lines = set(), 0
        if os.path.exists(f'{d}/out.jsonl'):
            for ln in open(f'{d}/out.jsonl'):
                lines += 1
                m = re.search(r'/items/(\d+)', json.loads(ln)['url'])
                ids.add(int(m.group(1)))
        failed = unowed = 0
        fpath = f'{d}/out.failed.jsonl'
        fids, why = set(), {}
        broken = {i for st in sts for i in (st.get('broken_items') or [])}
        troubled = tuple(m[1] for m in mocks if 'sick' in m[4] or 'down-at' in m[4])
        if os.path.exists(fpath):
            for ln in open(fpath):
                failed += 1
                f = json.loads(ln)
                m = re.search(r'/items/(\d+)', f['url'])
                if m:
                    fids.add(int(m.group(1)))
                if not owed(f, broken, troubled, int(m.group(1)) if m else None):
                    unowed += 1
                k = f"{f['error'][:100]} (status {f['status']}, {f['attempts']} attempts)"
                k = re.sub(r'https?://[^\s"]+', 'URL', re.sub(r'\d{4}-\d\d-\d\dT[\d:.]+Z', 'TIME', k))
                why[k] = why.get(k, 0) + 1
        lost = items - len(ids | fids)
        # a --shared group's ports are one server: count its ground truth once
        once = [st for i, st in enumerate(sts) if i == 0 or '--shared' not in mocks[i][3] or mocks[i][1] == procs_first(procs, mocks, i)]
        allsts, sts = sts, once
        req = sum(st['requests'] for st in sts)
        thr = sum(int(st['by_status'].get(c, 0)) for st in sts for c in ('429', '503', '403'))
        early = sum(st['early_requests'] for st in sts)
        okn = lambda st: sum(int(v) for c, v in st['by_status'].items() if c.startswith('2'))
        sts = allsts if model[0] == 'hosts' else sts
        if model[0] == 'hosts':
            ide = max([0.0] + [ideal(host_model(sc, kn, st, t0), okn(st), dur, t0) for (_, _, sc, kn, _), st in zip(mocks[1:], sts[1:])])
            at = re.search(r'--redirect-at (\d+(?:\.\d+)?)s', knobs)
            if model[1:2] == ('redirect',) and at:  # the items move at that time: the host behind starts then
                ide += float(at.group(1))
        else:  # windows are aligned on the server's clock
            skew = re.search(r'--clock-offset (-?\d+)s', knobs)
            n = items if model[0] == 'listing' else okn(sts[0])
            ide = ideal(model, n, dur, t0 + (int(skew.group(1)) if skew else 0), t0 - started(sts[0]))
        # the bench's measure of a window: its average rate, limit/window, with no burst at a window's start
        avg = round(100 * okn(sts[0]) / (model[1] / model[2]) / dur, 1) if model[0] in ('fixed', 'sliding') and dur else None
        t90 = None
        if model[0] == 'cap':
            opt = model[1] / model[2]
            for i, (ti, oi, *_) in enumerate(samples):
                for tj, oj, *_ in samples[i + 1:]:
                    if tj - ti >= 0.2:
                        if (oj - oi) / (tj - ti) >= 0.9 * opt:
                            t90 = round(ti - t0m, 2)
                        break
                if t90 is not None:
                    break
        res = dict(row=name, t0=round(t0, 3), rc=rc, items=items, out=lines, failed=failed, unowed=unowed, failed_why=why, lost=lost, dup=lines - len(ids),
                   dur=round(dur, 2), ideal=round(ide, 2), goodput=round(100 * ide / dur, 1) if dur else None, avg_rate_pct=avg,
                   t90=t90, requests=req, thr=thr, thr_pct=round(100 * thr / max(1, req), 2), early=early,
                   robots_viol=sum(st['robots_violations'] for st in sts), load=load,
                   max_in_flight=sts[0]['max_in_flight'], final_limit=s.get('final_limit'), max_limit=s.get('max_concurrency'),
                   per_second=[(sec['ok'], sec['throttled'], sec.get('max_in_flight', 0)) for sec in sts[0]['per_second']],
                   e5xx=sum(int(v) for st in sts for c, v in st['by_status'].items() if c.startswith('5') and c != '503'),
                   e4xx=sum(int(v) for st in sts for c, v in st['by_status'].items() if c in ('408', '425')),
                   stderr=open(f'{d}/stderr').read()[-400:] if rc not in (0,) else '')
        if trace:  # the main mock per 100 ms from the crawl's start: 2xx, throttled, other 5xx, in flight at the sample
            res['trace'] = [(round(a[0] - t0m, 1), a[1] - b[1], a[2] - b[2], a[3] - b[3], a[4]) for b, a in zip(samples, samples[1:])]
        if model[0] == 'hosts':  # each detail host: its 2xx, refusals, early, first detail request and last 2xx
            res['hosts'] = []
            for (_, u, sc, kn, x), st in zip(mocks[1:], sts[1:]):
                hi, first, last = ideal(host_model(sc, kn, st, t0), okn(st), dur, t0), when(st.get('first_detail')), when(st.get('last_detail_ok'))
                res['hosts'].append(dict(
                    host=f'{sc} {kn}' + ''.join(f' [{k} {v}]' for k, v in x.items() if k != 'weight'), ok=okn(st), thr=sum(int(st['by_status'].get(c, 0)) for c in ('429', '503', '403')),
                    early=st['early_requests'], ideal=round(hi, 3), max_in_flight=st['max_in_flight'], requests=st['requests'], healthy='sick' not in x and 'down-at' not in x and sc != 'blackout',
                    first_s=round(first - t0, 3) if first else None, last_ok_s=round(last - t0, 3) if last else None,
                    share=round(100 * hi / (last - t0), 1) if last and last > t0 and hi > 0 else None,
                    per_second=[(sec['ok'], sec['throttled'], sec.get('max_in_flight', 0)) for sec in st['per_second']],
                    started=round(started(st) - t0, 3)))
            # a host's share is judged where its optimum is long enough to time (0.5 s: ~10 of the client's ramps)
            hs = [h for h in res['hosts'] if h['healthy'] and h['share'] is not None and h['ideal'] >= 0.5]
            res['worst_healthy'] = min([h['share'] for h in hs], default=None)
            res['healthy_85'] = f"{sum(h['share'] >= 85 for h in hs)}/{len(hs)}"
            res['over_ideal'] = round(dur / ide, 2) if ide > 0 else None
        bad = []
        if stalled:
            bad.append('KILLED-AT-LIMIT')
        if rc not in (0,) and not stalled:
            bad.append(f'rc={rc}')
        if res['thr_pct'] > 1:
            bad.append('throttled>1%')
        if early:
            bad.append('early')
        if lost or res['dup']:
            bad.append('lost/dup')
        if unowed:
            bad.append(f'failed={unowed}')
        if ide >= 1 and res['goodput'] < 80:
            bad.append('goodput<80%')
        if res['robots_viol']:
            bad.append('robots')
        if model[0] == 'hosts' and ide >= 1 and res['worst_healthy'] is not None and res['worst_healthy'] < 85:
            bad.append('healthy<85%')
        if model[0] == 'hosts' and ide >= 1 and res['over_ideal'] > 1.3:
            bad.append('crawl>1.3x')
        res['verdict'] = ' '.join(bad) or 'ok'
        return res
    finally:
        for p in {m[0] for m in mocks} | {v[0] for v in procs.values()}:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(d, ignore_errors=True)
        if lockf:
            lockf.close()


def owed(f, broken, troubled, item):
    """Whether failed line f is one the servers' own design makes: an item robots.txt disallows (the presets'
    private items), one the mock breaks for good, one deleted (404), a redirect loop or a disallowed or 11th
    hop, or a real error (not a throttle) on a host the row makes sick or kills. A throttle never is: a server
    that throttles, however long, must cost no item."""
    throttled = f['status'] in (429, 503) or 'retry after' in f['error']
    return (f['error'] == 'disallowed by robots.txt' or item in broken or f['status'] == 404 or 'redirect' in f['error']
            or (not throttled and f['url'].startswith(troubled)))


def procs_first(procs, mocks, i):
    """The first URL its process printed for mock i: a --shared group's own ground truth is counted there."""
    return next(v[1][0] for v in procs.values() if v[0] is mocks[i][0])


def started(st):
    """The unix time a mock's Stats say it started (its per-second series counts from then)."""
    m = re.match(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$', st['started'])
    base = datetime.datetime.fromisoformat(m.group(1) + ('+00:00' if m.group(3) == 'Z' else m.group(3)))
    return base.timestamp() + float(m.group(2) or 0)


def host_model(scenario, knobs, st=None, t0=0):
    """The model of a detail host from its preset and knobs (only what ROWS uses). With its Stats st and the
    crawl's start t0, a blackout counts from the crawl's start only what was left of it then (the mocks start
    one after another, each blackout from its own start)."""
    g = lambda k, dflt: re.search(rf'--{k} (\S+)', knobs).group(1) if f'--{k} ' in knobs else dflt
    dur = lambda v: float(v[:-2]) / 1000 if v.endswith('ms') else float(v[:-1])
    if scenario == 'capacity-tight':
        return ('cap', int(g('slots', 16)), dur(g('latency', '20ms')), 0)
    if scenario in ('capacity', 'blackout'):
        out = dur(g('blackout-at', '1s')) + dur(g('blackout-for', '2s')) if scenario == 'blackout' else 0
        if out and st is not None:
            out = max(0.0, out - (t0 - started(st)))
        return ('cap', int(g('slots', 32)), dur(g('latency', '20ms')), out)
    if scenario.startswith('quota'):
        return ('bucket', float(g('rate', 100)), int(g('burst', 10)))
    if scenario in ('header-quota', 'header-quota-sliding'):
        return ('fixed' if scenario == 'header-quota' else 'sliding', int(g('header-limit', 500)), dur(g('header-window', '5s')))
    if scenario == 'header-quota-token-bucket':
        return ('tb', float(g('header-limit', 100)) / dur(g('header-window', '1s')), int(g('header-burst', 20)))
    return ('none',)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bin')
    ap.add_argument('--mockbin', default='')
    ap.add_argument('--rows', default='', help='a regex of row names (default: the QUICK rows)')
    ap.add_argument('--self-test', action='store_true')
    ap.add_argument('--t90', action='store_true', help="poll the mock's /__stats every 0.1 s for capacity rows' T90")
    ap.add_argument('--trace', action='store_true', help="poll the main mock's /__stats every 0.1 s and print 2xx/throttled/5xx/in-flight per 100 ms")
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--lock', action='store_true')
    ap.add_argument('--json', default='')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--tls', action='store_true', help='serve every mock over HTTPS, HTTP/2 offered; the crawl trusts their certificates through SSL_CERT_FILE')
    a = ap.parse_args()
    if a.tls:
        global TLS_DIR
        TLS_DIR = tempfile.mkdtemp(prefix='matrix-tls-')
        atexit.register(shutil.rmtree, TLS_DIR, ignore_errors=True)
    if a.self_test:
        self_test()
        return
    rows = [r for r in ROWS if re.search(a.rows, r[0])] if a.rows else [r for r in ROWS if r[0] in QUICK]
    if a.list:
        for r in rows:
            print(r[0], r[1], r[2], r[3])
        return
    out = open(a.json, 'a') if a.json else None
    for r in rows:
        for _ in range(a.runs):
            res = run(a.bin, r, a.mockbin or a.bin, a.lock, a.t90, a.trace)
            res['bin'] = a.bin
            print(f"{res['row']:20s} gp={res['goodput']}%{' avg=%s%%' % res['avg_rate_pct'] if res['avg_rate_pct'] else ''} ideal={res['ideal']}s dur={res['dur']}s t90={res['t90']} "
                  f"thr={res['thr_pct']}% early={res['early']} lost={res['lost']} dup={res['dup']} "
                  f"failed={res['failed']} ({res['unowed']} not the servers') 5xx={res['e5xx']} 408/425={res['e4xx']} limit={res['final_limit']}/{res['max_limit']} load={res['load']} -> {res['verdict']}", flush=True)
            if 'hosts' in res:
                print(f"   hosts={len(res['hosts'])} worst healthy share={res['worst_healthy']}% healthy>=85%: {res['healthy_85']} "
                      f"crawl/ideal={res['over_ideal']}x", flush=True)
            groups = {}
            for h in res.get('hosts', []):
                groups.setdefault(h['host'], []).append(h)
            for name, hs in groups.items():  # one line a host, or a group's spread when it has many
                if len(hs) <= 3:
                    for h in hs:
                        print(f"   {name:70s} ok={h['ok']} thr={h['thr']} early={h['early']} ideal={h['ideal']}s first={h['first_s']}s "
                              f"last_ok={h['last_ok_s']}s share={h['share']}% maxinfl={h['max_in_flight']} req={h['requests']}", flush=True)
                    continue
                q = lambda k: sorted(h[k] for h in hs if h[k] is not None)
                pct = lambda v: (v[0], v[len(v) // 2], v[-1]) if v else None
                print(f"   {len(hs)} x {name:60s} ok={sum(h['ok'] for h in hs)} thr={sum(h['thr'] for h in hs)} early={sum(h['early'] for h in hs)} "
                      f"first min/med/max={pct(q('first_s'))} last_ok={pct(q('last_ok_s'))} share={pct(q('share'))}", flush=True)
            if res.get('trace'):
                print('   per 100 ms (2xx/thr/5xx/inflight):', ' '.join(f'{t}:{o}/{th}/{e}/{f}' for t, o, th, e, f in res['trace']), flush=True)
            for k, v in sorted(res['failed_why'].items(), key=lambda kv: -kv[1])[:5]:
                print(f'   failed {v}: {k}', flush=True)
            if res['stderr']:
                print('   stderr:', res['stderr'].replace('\n', ' | ')[-300:], flush=True)
            if out:
                out.write(json.dumps(res) + '\n'); out.flush()


if __name__ == '__main__':
    main()
