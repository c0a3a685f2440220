#!/usr/bin/python3
"""multiprocessing.Event set-to-wake latency, for bench-event (stdlib only).

Usage: /usr/bin/python3 mp_event.py [--time S] [--waiters N ...]
Prints one figure per line, name<TAB>value<TAB>unit, for each N given
(default 1 and 4):

  event_wake_<N>w_us, _p99_us   N fork()ed children each wait() on one Event.
                                Each round the parent clear()s it, tells every
                                child over its Pipe to wait, sleeps 2 ms (so
                                the waits are parked), reads CLOCK_MONOTONIC,
                                set()s; each child reads CLOCK_MONOTONIC as its
                                wait() returns and sends it back.  One sample:
                                the last child's wake time minus the time read
                                just before set().  Median and 99th percentile
                                over --time s (default 1.5) after 20 warm-up
                                rounds.  bench-event times troupe the same way.
"""
import multiprocessing as mp
import statistics
import sys
import time

ctx = mp.get_context('fork')


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _waiter(ev, conn):
    while conn.recv():
        ev.wait()
        conn.send(mono_ns())


def wake(nwaiters, target):
    ev = ctx.Event()
    ends = [ctx.Pipe() for _ in range(nwaiters)]
    procs = [ctx.Process(target=_waiter, args=(ev, b)) for _, b in ends]
    for p in procs:
        p.start()
    out, rounds = [], 0
    end = None
    while True:
        if rounds == 20:
            end = time.monotonic() + target
        if end is not None and time.monotonic() >= end:
            break
        ev.clear()
        for a, _ in ends:
            a.send(True)
        time.sleep(0.002)
        t0 = mono_ns()
        ev.set()
        last = max(a.recv() for a, _ in ends)
        if rounds >= 20:
            out.append(last - t0)
        rounds += 1
    for a, _ in ends:
        a.send(False)
    for p in procs:
        p.join()
    out.sort()
    return statistics.median(out) / 1e3, out[min(len(out) - 1, int(0.99 * len(out)))] / 1e3


def main(argv):
    target, waiters = 1.5, []
    for i, a in enumerate(argv):
        if a == '--time':
            target = float(argv[i + 1])
        elif a == '--waiters':
            waiters.append(int(argv[i + 1]))
    for n in waiters or [1, 4]:
        med, p99 = wake(n, target)
        print(f'event_wake_{n}w_us\t{med:.1f}\tus', flush=True)
        print(f'event_wake_{n}w_p99_us\t{p99:.1f}\tus', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
