#!/usr/bin/python3
# The Manager rows of bench-manager measured with Python's
# multiprocessing.Manager() (run by bench-manager in the same run): prints
# "<row> <ops per second>".
import multiprocessing as mp
import sys
import time

DELTA = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3


def timed(fn):
    n, elapsed = 1, 0.0
    while elapsed < DELTA:
        n *= 2
        t = time.perf_counter()
        fn(n)
        elapsed = time.perf_counter() - t
    return n / elapsed


def dict_setter(d, conn):
    def sets(n):
        for i in range(n):
            d[i % 1000] = i
    conn.send(timed(sets))


def dict_sets_from_child(m):
    d = m.dict()
    r, w = mp.Pipe(False)
    p = mp.Process(target=dict_setter, args=(d, w))
    p.start()
    rate = r.recv()
    p.join()
    return rate


def lockspeed(l):
    def pairs(n):
        for _ in range(n):
            l.acquire()
            l.release()
    return timed(pairs)


def dict_readspeed(d):
    def reads(n):
        for _ in range(n):
            for i in range(1000):
                d[i]
    return timed(reads) * 1000


def readspeed(seq):
    size = len(seq)

    def reads(n):
        for _ in range(n):
            for i in range(size):
                seq[i]
    return timed(reads) * size


def slicespeed(seq):
    size = len(seq)

    def reads(n):
        for _ in range(n):
            seq[:]
    return timed(reads) * size


def producer(q, n):
    s = 'x' * 256
    for _ in range(n):
        q.put(s)


def queuespeed(m):
    q = m.Queue()

    def items(n):
        p = mp.Process(target=producer, args=(q, n))
        p.start()
        for _ in range(n):
            q.get()
        p.join()
    return timed(items)


def main():
    mp.set_start_method('fork')
    with mp.Manager() as m:
        rows = [('dict_set_child', lambda: dict_sets_from_child(m)),
                ('managed_dict_get',
                 lambda: dict_readspeed(m.dict({i: i for i in range(1000)}))),
                ('managed_lock', lambda: lockspeed(m.Lock())),
                ('managed_list', lambda: readspeed(m.list(range(1000)))),
                ('managed_list_slice', lambda: slicespeed(m.list(range(1000)))),
                ('managed_queue', lambda: queuespeed(m))]
        for name, fn in rows:
            print(name, '%.0f' % fn(), flush=True)


if __name__ == '__main__':
    main()
