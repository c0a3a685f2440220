#!/usr/bin/python3
# The rows of bench-manager-sync measured with Python's
# multiprocessing.Manager() (run by bench-manager-sync in the same run):
# prints "<row> <ops per second>".
import multiprocessing as mp
import sys
import time

DELTA = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3


def timed(fn):
    n, elapsed = 1, 0.0
    while elapsed < DELTA:
        n *= 2
        elapsed = fn(n)
    return n / elapsed


def clocked(fn):
    def run(n):
        t = time.perf_counter()
        fn(n)
        return time.perf_counter() - t
    return run


def pairs(lock):
    def run(n):
        for _ in range(n):
            lock.acquire()
            lock.release()
    return timed(clocked(run))


def cond_child(c, n):
    with c:
        c.notify()
        for _ in range(n):
            c.wait()
            c.notify()


def waits(c):
    # interleaved wait/notify by two processes: 2 n waits per run
    def run(n):
        with c:
            p = mp.Process(target=cond_child, args=(c, n))
            p.start()
            c.wait()
            t = time.perf_counter()
            for _ in range(n):
                c.notify()
                c.wait()
            elapsed = time.perf_counter() - t
            c.notify()
        p.join()
        return elapsed
    return timed(run) * 2


def reads(arr):
    size = len(arr)

    def run(n):
        for _ in range(n):
            for i in range(size):
                arr[i]
    return timed(clocked(run)) * size


def slices(arr):
    size = len(arr)

    def run(n):
        for _ in range(n):
            arr[:]
    return timed(clocked(run)) * size


def main():
    mp.set_start_method('fork')
    with mp.Manager() as m:
        rows = [('managed_rlock', lambda: pairs(m.RLock())),
                ('managed_semaphore', lambda: pairs(m.Semaphore(1))),
                ('managed_condition', lambda: waits(m.Condition())),
                ('managed_array', lambda: reads(m.Array('i', range(1000)))),
                ('managed_array_slice',
                 lambda: slices(m.Array('i', range(1000))))]
        for name, fn in rows:
            print(name, '%.0f' % fn(), flush=True)


if __name__ == '__main__':
    main()
