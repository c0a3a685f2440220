#!/usr/bin/python3
"""multiprocessing.Pipe between two fork()ed processes, for bench-msg (stdlib only).

Usage: /usr/bin/python3 mp_pipe.py [--time S] [--count N]
Prints one figure per line, name<TAB>value<TAB>unit:

  pipe_send_bytes_256B_msgs_per_s  Pipe(duplex=False): a child send_bytes()s N x 256 B,
                                   the parent recv_bytes()s them, timed from the first
                                   message received to the last: (N-1)/time, as bench-msg
                                   times troupe and raw ZeroMQ.
  pipe_send_bytes_64KiB_MB_per_s   the same with 65536 B; MB = 1e6 bytes.
  pipe_send_bytes_64B_rt_us, _p99  duplex Pipe, 64 B send_bytes() to an echo child and
                                   recv_bytes() of its answer: median and 99th percentile
                                   of one round trip, sampled for --time s after 1000
                                   warm-ups.
  pipe_pickle_256B_msgs_per_s      256 B one way with send()/recv() (pickled), as the anchor
  pipe_pickle_64B_rt_us, _p99      the same with send()/recv() (pickled), as the anchor
                                   shared/bench/anchors/mp_baseline.py measures it.
N is calibrated and sized to about --time seconds (default 1.5) unless --count is given.
CPU affinity is inherited from the caller (bench-msg --pin).
"""
import multiprocessing as mp
import statistics
import sys
import time

ctx = mp.get_context('fork')
now, ns = time.perf_counter, time.perf_counter_ns


def _sender(conn, n, size, raw=True):
    msg = b'x' * size
    send = conn.send_bytes if raw else conn.send
    for _ in range(n):
        send(msg)
    conn.close()


def _echo(conn, raw):
    recv, send = (conn.recv_bytes, conn.send_bytes) if raw else (conn.recv, conn.send)
    while True:
        m = recv()
        send(m)
        if not m:
            return


def oneway(n, size, raw=True):
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_sender, args=(w, n, size, raw))
    p.start()
    w.close()
    recv = r.recv_bytes if raw else r.recv
    m = recv()
    t0 = now()
    for _ in range(n - 1):
        m = recv()
    el = now() - t0
    assert len(m) == size
    p.join()
    r.close()
    return el


def throughput(size, n0, target, count, raw=True):
    n = count or max(n0, int(n0 * target / oneway(n0, size, raw)))
    return (n - 1) / oneway(n, size, raw)


def roundtrip(raw, target, count):
    a, b = ctx.Pipe()
    p = ctx.Process(target=_echo, args=(b, raw))
    p.start()
    send, recv = (a.send_bytes, a.recv_bytes) if raw else (a.send, a.recv)
    msg, out = b'x' * 64, []
    for _ in range(0 if count else 1000):
        send(msg)
        recv()
    end = now() + target
    while (len(out) < count) if count else (now() < end):
        t = ns()
        send(msg)
        recv()
        out.append(ns() - t)
    send(b'')
    recv()
    p.join()
    out.sort()
    return statistics.median(out) / 1e3, out[min(len(out) - 1, int(0.99 * len(out)))] / 1e3


def main(argv):
    target, count = 1.5, 0
    for i, a in enumerate(argv):
        if a == '--time':
            target = float(argv[i + 1])
        elif a == '--count':
            count = int(argv[i + 1])
    figures = [('pipe_send_bytes_256B_msgs_per_s', throughput(256, 20_000, target, count), 'msg/s'),
               # send()/recv() pickle: the anchor's pipe_256B_msgs_per_s
               ('pipe_pickle_256B_msgs_per_s', throughput(256, 20_000, target, count, False), 'msg/s'),
               ('pipe_send_bytes_64KiB_MB_per_s',
                throughput(65536, 2_000, target, count) * 65536 / 1e6, 'MB/s')]
    for raw, name in ((True, 'send_bytes'), (False, 'pickle')):
        med, p99 = roundtrip(raw, target, count)
        figures += [(f'pipe_{name}_64B_rt_us', med, 'us'), (f'pipe_{name}_64B_rt_p99_us', p99, 'us')]
    for name, value, unit in figures:
        print(f'{name}\t{value:.1f}\t{unit}', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
