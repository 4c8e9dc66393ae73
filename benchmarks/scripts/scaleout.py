#!/usr/bin/env python3
"""Run N `politely crawl --redis` processes as one crawl (the same config a user writes: the listing, the
task URL and the output; every limit at its default; robots.txt on; a cold start) against one `politely mock`
server, then `politely export`, and print: the sum's goodput over what the server allows, throttled answers,
early requests, the server's most requests in flight against its slots + queue, lost and duplicated ids in
the exported output, the CPU seconds each worker and redis-server used, each worker's summary, and the
server's 2xx/throttled/in flight per 100 ms (--trace).

usage: scaleout.py BIN --workers N --scenario NAME --knobs "..." --items N --model cap,SLOTS,LAT|bucket,RATE,BURST|none
                   [--stagger S] [--kill-at S] [--lock] [--trace] [--runs K]
A redis-server of its own runs on a free 127.0.0.1 port, without persistence, in a scratch directory.
Every run is bounded (60 s); with --lock the run holds /tmp/politely-measure.lock from the mock's start.
"""
import argparse, fcntl, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # start_mock, stats, ideal


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def reap(p, timeout):
    """Waits up to timeout for p (killed past it) and returns its exit code ('killed') and its CPU (resource usage)."""
    end = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru
        if time.monotonic() >= end:
            p.kill()
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            return 'killed', ru
        time.sleep(0.01)


def proc_cpu(pid):
    """The CPU seconds (user + system) a live process used so far."""
    try:
        f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        return round((int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK'), 2)
    except (OSError, IndexError, ValueError):
        return None


def run(a):
    d = tempfile.mkdtemp(prefix='scaleout-')
    lockf = open('/tmp/politely-measure.lock', 'a') if a.lock else None
    if lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
    procs = []
    try:
        port = free_port()
        rs = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                               '--dir', d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(rs)
        for _ in range(50):
            if subprocess.run(['redis-cli', '-p', str(port), 'ping'], capture_output=True, text=True).stdout.strip() == 'PONG':
                break
            time.sleep(0.1)
        rurl = f'redis://127.0.0.1:{port}/0'
        mp, (url,) = matrix.start_mock(a.mockbin or a.bin, a.scenario, a.knobs, a.items)
        procs.append(mp)
        open(f'{d}/c.yaml', 'w').write(f'''user_agent: "scaleout/1.0"
source:
  url: "{url}/items?per_page=100"
  pagination: {{style: page}}
  items_field: items
task:
  url: "{{+detail_path}}"
output: {d}/out.jsonl
''' + a.extra.replace('\\n', '\n'))
        samples, stop = [], [False]

        def poll():
            while not stop[0]:
                try:
                    st = matrix.stats(url)
                    samples.append((time.monotonic(), int(st['by_status'].get('200', 0)),
                                    sum(int(st['by_status'].get(c, 0)) for c in ('429', '503', '403')), st['in_flight']))
                except Exception:
                    pass
                time.sleep(0.1)
        th = threading.Thread(target=poll)
        load = open('/proc/loadavg').read().split()[0]
        t0m, t0 = time.monotonic(), time.time()
        th.start()
        crawls = []
        for i in range(a.workers):
            if i and a.stagger:
                time.sleep(a.stagger)
            crawls.append(subprocess.Popen([a.bin, 'crawl', '-c', f'{d}/c.yaml', '--quiet', '--redis', rurl, '--worker', f'w{i}',
                                            '--stats', f'{d}/s{i}.json'], stdout=subprocess.DEVNULL, stderr=open(f'{d}/err{i}', 'w')))
        if a.kill_at:  # kill -9 the first worker mid-crawl: the others must finish its items, each once
            time.sleep(max(0, a.kill_at - (time.monotonic() - t0m)))
            crawls[0].kill()
        rcs, cpu = [], []
        for c in crawls:
            rc, ru = reap(c, max(1, 60 - (time.monotonic() - t0m)))
            rcs.append(rc)
            cpu.append(round(ru.ru_utime + ru.ru_stime, 2) if ru else None)
        wall = time.monotonic() - t0m
        rcpu = proc_cpu(rs.pid)
        stop[0] = True
        th.join()
        ex = subprocess.run([a.bin, 'export', '-c', f'{d}/c.yaml', '--redis', rurl, '--out', f'{d}/exp.jsonl', '--failed', f'{d}/exp.failed.jsonl'],
                            capture_output=True, text=True, timeout=60)
        st = matrix.stats(url)
        ids, lines = [], 0
        if os.path.exists(f'{d}/exp.jsonl'):
            for ln in open(f'{d}/exp.jsonl'):
                lines += 1
                ids.append(int(re.search(r'/items/(\d+)', json.loads(ln)['url']).group(1)))
        fids = set()
        if os.path.exists(f'{d}/exp.failed.jsonl'):
            for ln in open(f'{d}/exp.failed.jsonl'):
                m = re.search(r'/items/(\d+)', json.loads(ln)['url'])
                if m:
                    fids.add(int(m.group(1)))
        ws = [json.load(open(f'{d}/s{i}.json')) if os.path.exists(f'{d}/s{i}.json') else {} for i in range(a.workers)]
        okn = sum(int(v) for c, v in st['by_status'].items() if c.startswith('2'))
        k = a.model.split(',')
        model = (k[0],) + tuple(float(x) for x in k[1:])
        ide = matrix.ideal(model, okn, wall, t0)
        # the crawl's span: the first worker's start to the last worker's end (the wall clock of the run)
        req = st['requests']
        thr = sum(int(st['by_status'].get(c, 0)) for c in ('429', '503', '403'))
        res = dict(workers=a.workers, rcs=rcs, wall=round(wall, 2), ideal=round(ide, 2), goodput=round(100 * ide / wall, 1),
                   ok=okn, requests=req, thr=thr, thr_pct=round(100 * thr / max(1, req), 2), early=st['early_requests'],
                   max_in_flight=st['max_in_flight'], lines=lines, dup=lines - len(set(ids)), lost=a.items - len(set(ids) | fids),
                   failed=len(fids), load=load, export_rc=ex.returncode, cpu=cpu, cpu_redis=rcpu,
                   per_worker=[dict(items=w.get('items'), succeeded=w.get('succeeded'), requests=w.get('requests'), throttled=w.get('throttled'),
                                    dur=w.get('duration_s'), maxc=w.get('max_concurrency'), final=w.get('final_limit')) for w in ws],
                   per_second=[(s['ok'], s['throttled'], s.get('max_in_flight', 0)) for s in st['per_second']])
        if a.trace:
            res['trace'] = [(round(y[0] - t0m, 1), y[1] - x[1], y[2] - x[2], y[3]) for x, y in zip(samples, samples[1:])]
        res['stderr'] = [open(f'{d}/err{i}').read()[-300:] for i in range(a.workers) if rcs[i] != 0]
        return res
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(d, ignore_errors=True)
        if lockf:
            lockf.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bin')
    ap.add_argument('--mockbin', default='')
    ap.add_argument('--workers', type=int, default=3)
    ap.add_argument('--scenario', required=True)
    ap.add_argument('--knobs', default='')
    ap.add_argument('--items', type=int, default=2000)
    ap.add_argument('--model', default='none')
    ap.add_argument('--extra', default='', help='YAML added to the config (\\n for a newline)')
    ap.add_argument('--stagger', type=float, default=0, help='seconds between the workers\' starts')
    ap.add_argument('--kill-at', type=float, default=0, help='kill -9 the first worker this many seconds after the start')
    ap.add_argument('--lock', action='store_true')
    ap.add_argument('--trace', action='store_true')
    ap.add_argument('--runs', type=int, default=1)
    a = ap.parse_args()
    for _ in range(a.runs):
        r = run(a)
        print(f"workers={r['workers']} rc={r['rcs']} gp={r['goodput']}% ideal={r['ideal']}s wall={r['wall']}s ok={r['ok']} thr={r['thr_pct']}% ({r['thr']}) "
              f"early={r['early']} maxinfl={r['max_in_flight']} lines={r['lines']} dup={r['dup']} lost={r['lost']} failed={r['failed']} "
              f"export_rc={r['export_rc']} load={r['load']} cpu={r['cpu']}s redis_cpu={r['cpu_redis']}s", flush=True)
        for i, w in enumerate(r['per_worker']):
            print(f'   w{i}: {w}', flush=True)
        print('   per second (ok/thr/maxinfl):', r['per_second'], flush=True)
        if r.get('trace'):
            print('   per 100 ms (2xx/thr/inflight):', ' '.join(f'{t}:{o}/{h}/{f}' for t, o, h, f in r['trace']), flush=True)
        for e in r['stderr']:
            print('   stderr:', e.replace('\n', ' | '), flush=True)


if __name__ == '__main__':
    main()
