#!/usr/bin/python3
"""Python multiprocessing's side of tools/bench/bench-process (stdlib only).

Usage: /usr/bin/python3 mp_process.py [--fork-runs N] [--spawn-runs N]
                                      [--forkserver-runs N]

Prints one figure per line, name<TAB>value<TAB>unit, for each start method
m in fork, spawn, forkserver:

  start_join_<m>_us, start_join_<m>_p99_us
      Process(target=noop) created, start()ed and join()ed: median and 99th
      percentile (the sample at index int(0.99 * N) of the sorted N) over N
      runs, after two untimed warm-up runs (the first starts the forkserver).
  idle_<m>_rss_kib, idle_<m>_pss_kib
      Rss and Pss from /proc/PID/smaps_rollup of an idle child started with
      m, read 300 ms after the child said it was ready over a Pipe.

bench-process runs this script and reads these lines; it measures troupe
the same way.
"""
import argparse
import multiprocessing as mp
import statistics
import time

METHODS = ('fork', 'spawn', 'forkserver')


def noop():
    pass


def idle(conn):
    conn.send('ready')
    conn.recv()


def med_p99(samples):
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(0.99 * len(s)))]


def start_join(ctx, runs):
    def once():
        t = time.perf_counter_ns()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        el = time.perf_counter_ns() - t
        assert p.exitcode == 0
        return el / 1e3

    for _ in range(2):
        once()
    return med_p99([once() for _ in range(runs)])


def smaps_rollup(pid):
    fields = {}
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if rest.split():
                fields[key] = rest.split()[0]
    return int(fields['Rss']), int(fields['Pss'])


def idle_memory(ctx):
    a, b = ctx.Pipe()
    p = ctx.Process(target=idle, args=(b,))
    p.start()
    a.recv()
    time.sleep(0.3)
    rss, pss = smaps_rollup(p.pid)
    a.send('bye')
    p.join()
    return rss, pss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--fork-runs', type=int, default=300)
    ap.add_argument('--spawn-runs', type=int, default=50)
    ap.add_argument('--forkserver-runs', type=int, default=100)
    args = ap.parse_args()
    runs = {'fork': args.fork_runs, 'spawn': args.spawn_runs,
            'forkserver': args.forkserver_runs}
    for m in METHODS:
        ctx = mp.get_context(m)
        med, p99 = start_join(ctx, runs[m])
        print(f'start_join_{m}_us\t{med:.1f}\tus', flush=True)
        print(f'start_join_{m}_p99_us\t{p99:.1f}\tus', flush=True)
    for m in METHODS:
        rss, pss = idle_memory(mp.get_context(m))
        print(f'idle_{m}_rss_kib\t{rss}\tKiB', flush=True)
        print(f'idle_{m}_pss_kib\t{pss}\tKiB', flush=True)


if __name__ == '__main__':
    main()
