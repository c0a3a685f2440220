#!/usr/bin/python3
"""multiprocessing.Pool figures for bench-pool (stdlib only).

Usage: /usr/bin/python3 mp_pool.py --workers W --items N --chunksize K
                                   --calls C --imap M --burn B
Prints one figure per line, name<TAB>value<TAB>unit:

  map_default_items_per_s   pool.map(f, range(N)) with its default chunking,
                            f(x) = x * x; N / time
  map_chunk_items_per_s     the same with chunksize=K
  apply_async_calls_per_s   C x apply_async(f, (i,)), then get() of each;
                            C / time
  apply_rt_us               median of pool.apply(f, (i,)), one at a time
  imap_unordered_items_per_s  imap_unordered(f, range(M), chunksize=K)
  burn_1_s, burn_2_s        map of a CPU-bound function (B iterations per
                            item, 16 items, chunksize 1) on 1 and on 2
                            workers: seconds
"""
import argparse
import multiprocessing as mp
import statistics
import time

now = time.perf_counter


def f(x):
    return x * x


def burn(n):
    s = 0
    for i in range(n):
        s += i
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--items', type=int, default=1000000)
    ap.add_argument('--chunksize', type=int, default=1000)
    ap.add_argument('--calls', type=int, default=20000)
    ap.add_argument('--imap', type=int, default=100000)
    ap.add_argument('--burn', type=int, default=2000000)
    a = ap.parse_args()
    ctx = mp.get_context('fork')
    with ctx.Pool(a.workers) as pool:
        pool.map(f, range(1000))  # warm up
        t = now()
        pool.map(f, range(a.items))
        print('map_default_items_per_s\t%.0f\titems/s' % (a.items / (now() - t)))
        t = now()
        pool.map(f, range(a.items), chunksize=a.chunksize)
        print('map_chunk_items_per_s\t%.0f\titems/s' % (a.items / (now() - t)))
        t = now()
        rs = [pool.apply_async(f, (i,)) for i in range(a.calls)]
        for r in rs:
            r.get()
        print('apply_async_calls_per_s\t%.0f\tcalls/s' % (a.calls / (now() - t)))
        samples = []
        for i in range(2000):
            t = time.perf_counter_ns()
            pool.apply(f, (i,))
            samples.append((time.perf_counter_ns() - t) / 1000)
        print('apply_rt_us\t%.1f\tus' % statistics.median(samples))
        t = now()
        for _ in pool.imap_unordered(f, range(a.imap), chunksize=a.chunksize):
            pass
        print('imap_unordered_items_per_s\t%.0f\titems/s' % (a.imap / (now() - t)))
    for w in (1, 2):
        with ctx.Pool(w) as pool:
            t = now()
            pool.map(burn, [a.burn] * 16, chunksize=1)
            print('burn_%d_s\t%.3f\ts' % (w, now() - t))


if __name__ == '__main__':
    main()
