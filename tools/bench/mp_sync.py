#!/usr/bin/python3
# The seed's synchronization tables measured with Python's multiprocessing
# (run by bench-sync in the same run): prints "<row> <ops per second>".
import multiprocessing as mp
import sys
import time

DELTA = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3


def lockspeed(l):
    n, elapsed = 1, 0.0
    while elapsed < DELTA:
        n *= 2
        t = time.perf_counter()
        for _ in range(n):
            l.acquire()
            l.release()
        elapsed = time.perf_counter() - t
    return n / elapsed


def notify_func(c, n):
    c.acquire()
    c.notify()
    for _ in range(n):
        c.wait()
        c.notify()
    c.release()


def conditionspeed(c):
    n, elapsed = 1, 0.0
    while elapsed < DELTA:
        n *= 2
        c.acquire()
        p = mp.Process(target=notify_func, args=(c, n))
        p.start()
        c.wait()
        t = time.perf_counter()
        for _ in range(n):
            c.notify()
            c.wait()
        elapsed = time.perf_counter() - t
        c.release()
        p.join()
    return 2 * n / elapsed


def readspeed(seq):
    n, elapsed = 1, 0.0
    size = len(seq)
    while elapsed < DELTA:
        n *= 2
        t = time.perf_counter()
        for _ in range(n):
            for i in range(size):
                seq[i]
        elapsed = time.perf_counter() - t
    return n * size / elapsed


def main():
    mp.set_start_method('fork')
    rows = [('lock', lambda: lockspeed(mp.Lock())),
            ('rlock', lambda: lockspeed(mp.RLock())),
            ('cond', lambda: conditionspeed(mp.Condition())),
            ('list', lambda: readspeed(list(range(1000)))),
            ('array_nolock', lambda: readspeed(mp.Array('i', range(1000), lock=False))),
            ('array_lock', lambda: readspeed(mp.Array('i', range(1000), lock=True)))]
    if '--no-manager' not in sys.argv:
        m = mp.Manager()
        rows += [('managed_lock', lambda: lockspeed(m.Lock())),
                 ('managed_cond', lambda: conditionspeed(m.Condition())),
                 ('managed_list', lambda: readspeed(m.list(range(1000))))]
    for name, fn in rows:
        print(name, '%.0f' % fn(), flush=True)


if __name__ == '__main__':
    main()
