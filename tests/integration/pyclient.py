#!/usr/bin/python3
"""A troupe client in Python (pyzmq + protobuf), written from docs/protocol.md.

Usage: pyclient.py PROTO RUNDIR ACTOR_ADDR
  PROTO       path of proto/supervisor.proto (it imports troupe.proto)
  RUNDIR      the run's runtime directory (tr_runtime_dir())
  ACTOR_ADDR  the echo actor's address, "node.pid.incarnation"

The protobuf classes are built at run time from PROTO and the files it
imports, without protoc: a tiny parser for the subset of proto3 that
troupe's .proto files use fills in a FileDescriptorProto for each.  The
client binds its own mailbox like an actor does, sends the echo actor
(tests/integration/test-pyclient.c) five bad messages that it must drop and
count, then good requests, and checks the replies.
Exit 0 = all checks passed, 77 = pyzmq or protobuf missing (skip), 1 = a
check failed.
"""
import os
import re
import sys

try:
    import zmq
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as e:  # pragma: no cover
    print(f'pyclient: skipped: {e}', file=sys.stderr)
    sys.exit(77)

FLAG_REPLY, FLAG_SYSTEM = 1, 2
TIMEOUT_MS = 10000

# ---- the .proto subset parser ----------------------------------------------

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    'double': FDP.TYPE_DOUBLE, 'float': FDP.TYPE_FLOAT, 'int64': FDP.TYPE_INT64,
    'uint64': FDP.TYPE_UINT64, 'int32': FDP.TYPE_INT32, 'fixed64': FDP.TYPE_FIXED64,
    'fixed32': FDP.TYPE_FIXED32, 'bool': FDP.TYPE_BOOL, 'string': FDP.TYPE_STRING,
    'bytes': FDP.TYPE_BYTES, 'uint32': FDP.TYPE_UINT32, 'sfixed32': FDP.TYPE_SFIXED32,
    'sfixed64': FDP.TYPE_SFIXED64, 'sint32': FDP.TYPE_SINT32, 'sint64': FDP.TYPE_SINT64,
}


def tokens(text):
    text = re.sub(r'//[^\n]*', '', text)
    return re.findall(r'"[^"]*"|[A-Za-z_][\w.]*|-?\d+|[{};=]', text)


def parse_enum(tok, i, enum):
    """tok[i] is the enum's '{'; returns the index after its '}'."""
    i += 1
    while tok[i] != '}':
        name, eq, num, semi = tok[i:i + 4]
        assert eq == '=' and semi == ';', tok[i:i + 4]
        enum.value.add(name=name, number=int(num))
        i += 4
    return i + 1


def parse_message(tok, i, msg, enums):
    """tok[i] is the message's '{'; returns the index after its '}'."""
    i += 1
    while tok[i] != '}':
        if tok[i] == 'enum':
            e = msg.enum_type.add(name=tok[i + 1])
            enums.add(e.name)
            enums.add(f'{msg.name}.{e.name}')
            i = parse_enum(tok, i + 2, e)
            continue
        label = FDP.LABEL_OPTIONAL
        if tok[i] == 'repeated':
            label, i = FDP.LABEL_REPEATED, i + 1
        ftype, name, eq, num, semi = tok[i:i + 5]
        assert eq == '=' and semi == ';', tok[i:i + 5]
        f = msg.field.add(name=name, number=int(num), label=label)
        if ftype in SCALARS:
            f.type = SCALARS[ftype]
        else:  # resolved below, once every enum name is known
            f.type_name = ftype
        i += 5
    return i + 1


def parse_file(path, files):
    """Parse path, and first every file it imports (from its directory),
    into files: name -> (FileDescriptorProto, enum names)."""
    name = os.path.basename(path)
    if name in files:
        return
    tok = tokens(open(path).read())
    fd = descriptor_pb2.FileDescriptorProto(name=name, syntax='proto3')
    enums, i = set(), 0
    files[name] = None  # an import cycle stops here
    while i < len(tok):
        t = tok[i]
        if t == 'syntax':
            i += 4  # syntax = "proto3" ;
        elif t == 'package':
            fd.package, i = tok[i + 1], i + 3
        elif t == 'import':  # import "other.proto" ;
            dep = tok[i + 1].strip('"')
            parse_file(os.path.join(os.path.dirname(path), dep), files)
            fd.dependency.append(dep)
            i += 3
        elif t == 'enum':
            e = fd.enum_type.add(name=tok[i + 1])
            enums.add(e.name)
            i = parse_enum(tok, i + 2, e)
        elif t == 'message':
            i = parse_message(tok, i + 2, fd.message_type.add(name=tok[i + 1]), enums)
        else:
            raise ValueError(f'{path}: unexpected {t!r}')
    files.pop(name)
    files[name] = (fd, enums)  # after its imports: the order to add them in


def resolve(fd, enums):
    """Turn the bare type names of fd's fields into full names; enums holds
    the enum names of fd and of the files it imports (all one package)."""
    for m in fd.message_type:
        for f in m.field:
            if f.type_name:
                local = f'{m.name}.{f.type_name}' in enums
                f.type = FDP.TYPE_ENUM if (local or f.type_name in enums) else FDP.TYPE_MESSAGE
                f.type_name = f'.{fd.package}.' + (f'{m.name}.' if local else '') + f.type_name


def load_proto(path):
    """Message classes of every message in path and the files it imports,
    by full name."""
    files = {}
    parse_file(path, files)
    all_enums = set().union(*(e for _, e in files.values()))
    pool = descriptor_pool.DescriptorPool()
    out = {}
    for fd, _ in files.values():
        resolve(fd, all_enums)
        pool.Add(fd)
    for fd, _ in files.values():
        for m in fd.message_type:
            d = pool.FindMessageTypeByName(f'{fd.package}.{m.name}')
            if hasattr(message_factory, 'GetMessageClass'):
                out[d.full_name] = message_factory.GetMessageClass(d)
            else:
                out[d.full_name] = message_factory.MessageFactory(pool).GetPrototype(d)
    return out


# ---- the client --------------------------------------------------------------

def incarnation(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks since boot)."""
    stat = open(f'/proc/{pid}/stat').read()
    return int(stat[stat.rindex(')') + 2:].split()[19])


def parse_addr(text):
    node, pid, inc = (int(x) for x in text.split('.'))
    return node, pid, inc


class Client:
    def __init__(self, pb, rundir, actor):
        self.pb, self.rundir, self.actor = pb, rundir, actor
        self.me = (0, os.getpid(), incarnation(os.getpid()))
        self.ctx = zmq.Context()
        self.mailbox = self.ctx.socket(zmq.PULL)
        self.mailbox.linger = 0
        self.mailbox.bind(self.endpoint(self.me))
        self.out = self.ctx.socket(zmq.PUSH)
        self.out.linger = 1000
        self.out.connect(self.endpoint(actor))
        self.next_id = 0

    def endpoint(self, a):
        return f'ipc://{self.rundir}/{a[1]}.{a[2]}'

    def addr(self, a):
        return self.pb['trwire.Addr'](node=a[0], pid=a[1], incarnation=a[2])

    def envelope(self, type_name, corr, recipient=None):
        self.next_id += 1
        env = self.pb['trwire.Envelope']()
        env.sender.CopyFrom(self.addr(self.me))
        env.recipient.CopyFrom(self.addr(recipient or self.actor))
        env.reply_to.CopyFrom(self.addr(self.me))
        env.msg_id, env.correlation_id, env.type = self.next_id, corr, type_name
        return env

    def send(self, frames):
        self.out.send_multipart(frames, copy=True)

    def recv(self):
        if not self.mailbox.poll(TIMEOUT_MS):
            raise TimeoutError('no reply from the actor')
        frames = self.mailbox.recv_multipart()
        check(len(frames) == 2, f'a reply has 2 frames, got {len(frames)}')
        env = self.pb['trwire.Envelope'].FromString(frames[0])
        return env, frames[1]

    def close(self):
        self.out.close()
        self.mailbox.close()
        self.ctx.term()
        try:
            os.unlink(f'{self.rundir}/{self.me[1]}.{self.me[2]}')
        except OSError:
            pass


failures = 0


def check(ok, what):
    global failures
    print(f'pyclient: {"ok" if ok else "FAILED"}: {what}', file=sys.stderr)
    if not ok:
        failures += 1


def check_reply(c, env, corr, type_name):
    check(env.flags & FLAG_REPLY, 'reply carries FLAG_REPLY')
    check(env.correlation_id == corr, f'reply correlation {env.correlation_id} == {corr}')
    check(env.type == type_name, f'reply type {env.type!r} == {type_name!r}')
    check((env.sender.pid, env.sender.incarnation) == c.actor[1:],
          'reply sender is the actor')
    check((env.recipient.pid, env.recipient.incarnation) == c.me[1:],
          'reply recipient is this client')
    check(env.msg_id > 0 and env.send_time_ns > 0, 'reply has msg_id and send_time_ns')


def main(argv):
    proto, rundir, actor_text = argv
    pb = load_proto(proto)
    c = Client(pb, rundir, parse_addr(actor_text))
    info = pb['trwire.ChildInfo']

    # Five bad messages, each of which the actor must drop and count.
    c.send([b'one lonely frame'])                                   # malformed
    good_env = c.envelope('trwire.ChildInfo', 99).SerializeToString()
    c.send([good_env, info(id='x').SerializeToString(), b'third'])  # malformed
    c.send([b'\xff\xff\xff\xff', b'payload'])                       # malformed
    c.send([c.envelope('trwire.Boot', 98).SerializeToString(), b''])  # badtype
    stale = (c.actor[0], c.actor[1], c.actor[2] + 1)
    c.send([c.envelope('trwire.ChildInfo', 97, stale).SerializeToString(),
            info(id='stale').SerializeToString()])                  # stale

    # A protobuf request: the answer is derived from it and carries the
    # actor's drop counters.
    req = info(id='ping', pid=41, actor='py')
    c.send([c.envelope('trwire.ChildInfo', 1001).SerializeToString(), req.SerializeToString()])
    env, payload = c.recv()
    check_reply(c, env, 1001, 'trwire.ChildInfo')
    rep = info.FromString(payload)
    check(rep.id == 'echo:ping' and rep.pid == 42 and rep.actor == 'PY',
          f'answer derived from the request: {rep.id!r} {rep.pid} {rep.actor!r}')
    check(rep.restarts == 3, f'actor dropped 3 malformed messages (counted {rep.restarts})')
    check(rep.type == 1, f'actor dropped 1 unregistered type (counted {rep.type})')
    check(rep.last_exitcode == 1, f'actor dropped 1 stale message (counted {rep.last_exitcode})')
    check((rep.addr.pid, rep.addr.incarnation) == c.actor[1:], 'actor reports its own address')

    # A raw-bytes request (type ""): answered reversed.
    c.send([c.envelope('', 1002).SerializeToString(), b'abcdef'])
    env, payload = c.recv()
    check_reply(c, env, 1002, '')
    check(payload == b'fedcba', f'raw answer {payload!r}')

    # Stop the actor; it answers before it returns.
    c.send([c.envelope('trwire.ChildInfo', 1003).SerializeToString(),
            info(id='stop').SerializeToString()])
    env, payload = c.recv()
    check_reply(c, env, 1003, 'trwire.ChildInfo')
    c.close()
    return 1 if failures else 0


if __name__ == '__main__':
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
