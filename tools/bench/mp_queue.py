#!/usr/bin/python3
"""multiprocessing queues passing 256 B bytes objects, for bench-queue (stdlib only).

Usage: /usr/bin/python3 mp_queue.py [--count N]
Prints one figure per line, name<TAB>value<TAB>unit, each the number of items
passed between processes per second, timed from the producers' start to the
last item got (as bench-queue times troupe):

  queue_1x1_items_per_s      multiprocessing.Queue, 1 producer process, 1 consumer
  queue_4x4_items_per_s      multiprocessing.Queue, 4 producers, 4 consumers
  manager_1x1_items_per_s    Manager().Queue() ("a queue managed by a server"), 1/1
  joinable_1x1_items_per_s   multiprocessing.JoinableQueue put/get/task_done, 1/1

Each producer puts count/P items; consumers get until a None sentinel each.
"""
import multiprocessing as mp
import sys
import time

ctx = mp.get_context('fork')
now = time.perf_counter
ITEM = b'x' * 256


def _producer(q, n):
    for _ in range(n):
        q.put(ITEM)


def _consumer(q, done, joinable):
    got = 0
    while True:
        m = q.get()
        if joinable:
            q.task_done()
        if m is None:
            break
        got += 1
    done.put(got)


def run(q, nprod, ncons, count, joinable=False):
    done = ctx.Queue()
    cons = [ctx.Process(target=_consumer, args=(q, done, joinable)) for _ in range(ncons)]
    for c in cons:
        c.start()
    t0 = now()
    prods = [ctx.Process(target=_producer, args=(q, count // nprod)) for _ in range(nprod)]
    for p in prods:
        p.start()
    for p in prods:
        p.join()
    for _ in cons:
        q.put(None)
    total = sum(done.get() for _ in cons)
    el = now() - t0
    for c in cons:
        c.join()
    assert total == (count // nprod) * nprod, total
    return total / el


def main():
    count = 200000
    if '--count' in sys.argv:
        count = int(sys.argv[sys.argv.index('--count') + 1])
    print('queue_1x1_items_per_s\t%.0f\titems/s' % run(ctx.Queue(), 1, 1, count), flush=True)
    print('queue_4x4_items_per_s\t%.0f\titems/s' % run(ctx.Queue(), 4, 4, count), flush=True)
    with ctx.Manager() as m:
        print('manager_1x1_items_per_s\t%.0f\titems/s'
              % run(m.Queue(), 1, 1, max(count // 10, 1000)), flush=True)
    print('joinable_1x1_items_per_s\t%.0f\titems/s'
          % run(ctx.JoinableQueue(), 1, 1, count, True), flush=True)


if __name__ == '__main__':
    main()
