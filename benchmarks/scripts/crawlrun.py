#!/usr/bin/env python3
"""Run `politely crawl` (default config, cold start) against `politely mock` and print goodput over
the optimum, T90, throttled answers and early requests, as benchmarks/RESULTS.md records them.
Kept only as the command behind the historical rows of RESULTS.md's "Crawl end to end" section
(measured at c411710 and the day's after builds); `politely bench --scenario crawl-...` reports the same
figures and is the command for new ones.
Its "early" is the mock's count at arrival (the bench's "early at server"): it includes requests already
on their way when the server answered 429; the bench's "early" (sent after the answer was received) is
the politeness figure.
usage: crawlrun.py BIN SCENARIO OPTIMUM [--robots on|off] [--alg X] [--items N] [--mock "--slots 16 --queue 4"] [--mockbin BIN]"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, threading, time, urllib.request
ap = argparse.ArgumentParser()
ap.add_argument('bin'); ap.add_argument('scenario'); ap.add_argument('optimum', type=float)
ap.add_argument('--robots', default='on'); ap.add_argument('--alg', default='')
ap.add_argument('--items', type=int, default=4000); ap.add_argument('--per-page', type=int, default=100)
ap.add_argument('--timeout', default='10s')
ap.add_argument('--mock', default=''); ap.add_argument('--timeline', action='store_true')
ap.add_argument('--poll', type=float, default=0.05); ap.add_argument('--mockbin', default='')
a = ap.parse_args()
d = tempfile.mkdtemp(prefix='crawlrun-')
mock = subprocess.Popen([a.mockbin or a.bin, 'mock', '--scenario', a.scenario, '--items', str(a.items)] + a.mock.split(),
                        stdout=subprocess.PIPE, text=True)
line = mock.stdout.readline()
url = re.search(r'at (http://\S+) ', line).group(1)
cfg = f'''user_agent: "crawlrun/1.0"
source:
  url: "{url}/items?per_page={a.per_page}"
  pagination: {{style: page}}
  items_field: items
task:
  url: "{{+detail_path}}"
limits:
  timeout: {a.timeout}
''' + (f"  concurrency: {{algorithm: {a.alg}}}\n" if a.alg else '') + f'''politeness:
  robots: {"true" if a.robots == "on" else "false"}
output: {d}/out.jsonl
'''
open(f'{d}/c.yaml', 'w').write(cfg)
samples = []
stop = False
def poll():
    while not stop:
        try:
            st = json.load(urllib.request.urlopen(url + '/__stats'))
            samples.append((time.monotonic(), st['by_class'].get('detail', 0), st['by_status'], st['in_flight']))
        except Exception:
            pass
        time.sleep(a.poll)
t0 = time.monotonic()
th = threading.Thread(target=poll); th.start()
cr = subprocess.run([a.bin, 'crawl', '-c', f'{d}/c.yaml', '--quiet', '--stats', f'{d}/s.json'],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
t1 = time.monotonic()
stop = True; th.join()
st = json.load(urllib.request.urlopen(url + '/__stats'))
mock.terminate(); mock.wait()
open(f'{d}/stderr','w').write(cr.stderr)
if cr.returncode != 0:
    print('crawl failed', cr.returncode, cr.stderr[-2000:], file=sys.stderr); sys.exit(1)
s = json.load(open(f'{d}/s.json'))
shutil.rmtree(d)
dur = s['duration_s']
bs = st['by_status']
thr = int(bs.get('429', 0)) + int(bs.get('503', 0)) + int(bs.get('403', 0))
req = st['requests']
# T90: first poll after which detail 200s over the next 200 ms reach 90% of optimum
def ok(sm): return int(sm[2].get('200', 0))
t90 = None
for i, sm in enumerate(samples):
    for j in range(i + 1, len(samples)):
        if samples[j][0] - sm[0] >= 0.2:
            if (ok(samples[j]) - ok(sm)) / (samples[j][0] - sm[0]) >= 0.9 * a.optimum:
                t90 = sm[0] - t0
            break
    if t90 is not None: break
res = dict(scenario=a.scenario, robots=a.robots, alg=a.alg or 'default', items=s['succeeded'], dur=round(dur, 2),
           goodput=round(s['succeeded'] / dur, 1), pct=round(100 * s['succeeded'] / dur / a.optimum, 1),
           t90=None if t90 is None else round(t90, 2), throttled=thr, thr_pct=round(100 * thr / max(1, req), 2),
           early=st['early_requests'], requests=req, maxc=s['max_concurrency'], final=s['final_limit'])
print(json.dumps(res))
if a.timeline:
    prev = None
    for sm in samples:
        if prev and sm[0] - prev[0] >= 0.099:
            print(f"  t={prev[0]-t0:5.2f} ok/s={(ok(sm)-ok(prev))/(sm[0]-prev[0]):7.0f} inflight={sm[3]} thr={int(sm[2].get('503',0))+int(sm[2].get('429',0))+int(sm[2].get('403',0))}")
            prev = sm
        elif not prev: prev = sm
