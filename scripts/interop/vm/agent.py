#!/usr/bin/python3
"""bl-agent: the interop peer VM's command agent.

Speaks one JSON object per line over the virtio-serial port named org.branchlink.agent
(a unix socket on the host). Requests carry an `id` and an `op`; every request gets exactly
one response line `{"id": .., "ok": true, ...}` or `{"id": .., "ok": false, "error": ".."}`.
Unsolicited events have no id: `{"event": "ready", ...}` once at start and
`{"event": "exit", "pid": .., "code": .., "signal": ..}` when a spawned process ends.

Ops:
  ping                                        -> uptime
  exec      cmd, timeoutMs=30000, stdin(b64)  -> code, signal, stdout, stderr, timedOut
  spawn     cmd, log=/var/log/<pid>.log       -> pid, log   (own session; output to log)
  status    pid                               -> running, code, signal
  wait      pid, timeoutMs=10000              -> running, code, signal
  kill      pid, signal='TERM', group=true    -> sent
  readFile  path, offset=0, maxBytes=16 MiB   -> data(b64), size
  writeFile path, data(b64), mode=0o644, append=false

Each request runs on its own thread, so a long exec never blocks a kill. Output is capped
so one chatty command cannot exhaust the VM's memory.
"""

import base64
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

PORT_NAME = 'org.branchlink.agent'
MAX_OUTPUT = 4 * 1024 * 1024
MAX_READ = 16 * 1024 * 1024
MAX_LINE = 64 * 1024 * 1024
ENV = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME': '/root',
    'LANG': 'C.UTF-8',
}


def log(msg):
    sys.stderr.write('bl-agent: %s\n' % msg)
    sys.stderr.flush()


def uptime():
    with open('/proc/uptime') as f:
        return float(f.read().split()[0])


def find_port(deadline):
    while True:
        try:
            for entry in sorted(os.listdir('/sys/class/virtio-ports')):
                try:
                    with open('/sys/class/virtio-ports/%s/name' % entry) as f:
                        if f.read().strip() == PORT_NAME:
                            path = '/dev/' + entry
                            if os.path.exists(path):
                                return path
                except OSError:
                    pass
        except OSError:
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


class Channel:
    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, obj):
        data = (json.dumps(obj, separators=(',', ':')) + '\n').encode()
        with self.lock:
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self.fd, view)
                except InterruptedError:
                    continue
                except BlockingIOError:
                    select.select([], [self.fd], [], 1.0)
                    continue
                view = view[n:]


class Procs:
    """Spawned processes by pid; a waiter thread per process records the exit."""

    def __init__(self, channel):
        self.channel = channel
        self.lock = threading.Condition()
        self.procs = {}

    def add(self, proc, log_path):
        with self.lock:
            self.procs[proc.pid] = {'proc': proc, 'log': log_path, 'code': None, 'signal': None}
        threading.Thread(target=self._wait, args=(proc,), daemon=True).start()

    def _wait(self, proc):
        rc = proc.wait()
        with self.lock:
            entry = self.procs[proc.pid]
            if rc < 0:
                entry['signal'] = signal.Signals(-rc).name if -rc in signal.valid_signals() else -rc
            else:
                entry['code'] = rc
            entry['done'] = True
            self.lock.notify_all()
        self.channel.send({'event': 'exit', 'pid': proc.pid, 'code': entry['code'],
                           'signal': entry['signal'], 'log': entry['log']})

    def status(self, pid, timeout=0.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            entry = self.procs.get(pid)
            if entry is None:
                raise KeyError('no spawned process with pid %d' % pid)
            while not entry.get('done') and time.monotonic() < deadline:
                self.lock.wait(max(0.0, deadline - time.monotonic()))
            return {'pid': pid, 'running': not entry.get('done', False), 'code': entry['code'],
                    'signal': entry['signal'], 'log': entry['log']}


def text(data):
    truncated = len(data) > MAX_OUTPUT
    return data[:MAX_OUTPUT].decode('utf-8', 'replace'), truncated


def op_exec(req, _procs):
    timeout = float(req.get('timeoutMs', 30000)) / 1000.0
    stdin = base64.b64decode(req['stdin']) if req.get('stdin') else b''
    started = time.monotonic()
    proc = subprocess.Popen(['/bin/sh', '-c', req['cmd']], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd='/',
                            start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=2.0)
        except subprocess.TimeoutExpired:
            # A grandchild in another session still holds the pipes: give up on the rest.
            out, err = b'', b''
    rc = proc.wait()
    stdout, out_trunc = text(out)
    stderr, err_trunc = text(err)
    return {
        'code': rc if rc >= 0 else None,
        'signal': signal.Signals(-rc).name if rc < 0 else None,
        'stdout': stdout,
        'stderr': stderr,
        'truncated': out_trunc or err_trunc,
        'timedOut': timed_out,
        'durationMs': round((time.monotonic() - started) * 1000),
    }


def op_spawn(req, procs):
    log_path = req.get('log')
    if not log_path:
        log_path = '/var/log/bl-spawn-%d-%d.log' % (os.getpid(), int(time.monotonic() * 1000))
    os.makedirs(os.path.dirname(log_path) or '/', exist_ok=True)
    with open(log_path, 'ab', buffering=0) as logf:
        proc = subprocess.Popen(['/bin/sh', '-c', req['cmd']], stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, env=ENV, cwd='/',
                                start_new_session=True)
    procs.add(proc, log_path)
    return {'pid': proc.pid, 'log': log_path}


def op_status(req, procs):
    return procs.status(int(req['pid']))


def op_wait(req, procs):
    return procs.status(int(req['pid']), float(req.get('timeoutMs', 10000)) / 1000.0)


def kill_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def op_kill(req, _procs):
    sig = req.get('signal', 'TERM')
    signum = getattr(signal, 'SIG' + sig) if isinstance(sig, str) else int(sig)
    pid = int(req['pid'])
    try:
        if req.get('group', True):
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
        return {'sent': True}
    except ProcessLookupError:
        return {'sent': False}


def op_read_file(req, _procs):
    offset = int(req.get('offset', 0))
    max_bytes = min(int(req.get('maxBytes', MAX_READ)), MAX_READ)
    with open(req['path'], 'rb') as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(offset)
        data = f.read(max_bytes)
    return {'data': base64.b64encode(data).decode('ascii'), 'size': size}


def op_write_file(req, _procs):
    data = base64.b64decode(req.get('data', ''))
    path = req['path']
    os.makedirs(os.path.dirname(path) or '/', exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if req.get('append') else os.O_TRUNC)
    fd = os.open(path, flags, int(req.get('mode', 0o644)))
    try:
        os.fchmod(fd, int(req.get('mode', 0o644)))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return {'written': len(data)}


def op_ping(_req, _procs):
    return {'uptime': uptime()}


OPS = {
    'ping': op_ping,
    'exec': op_exec,
    'spawn': op_spawn,
    'status': op_status,
    'wait': op_wait,
    'kill': op_kill,
    'readFile': op_read_file,
    'writeFile': op_write_file,
}


def handle(line, channel, procs):
    req_id = None
    try:
        req = json.loads(line)
        req_id = req.get('id')
        fn = OPS.get(req.get('op'))
        if fn is None:
            raise ValueError('unknown op %r' % req.get('op'))
        result = fn(req, procs)
        result['id'] = req_id
        result['ok'] = True
        channel.send(result)
    except Exception as e:  # every request gets an answer, whatever went wrong
        channel.send({'id': req_id, 'ok': False, 'error': '%s: %s' % (type(e).__name__, e)})


def main():
    path = find_port(time.monotonic() + 30)
    if path is None:
        log('virtio port %s not found' % PORT_NAME)
        return 1
    fd = os.open(path, os.O_RDWR)
    channel = Channel(fd)
    procs = Procs(channel)
    channel.send({'event': 'ready', 'uptime': uptime(), 'uname': os.uname().release,
                  'pid': os.getpid()})
    log('ready on %s' % path)
    buf = b''
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            # No host on the other end (read returns 0): wait for it to (re)connect.
            time.sleep(0.2)
            continue
        buf += chunk
        if len(buf) > MAX_LINE:
            log('request line over %d bytes: dropped' % MAX_LINE)
            buf = b''
            continue
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            if line.strip():
                threading.Thread(target=handle, args=(line, channel, procs), daemon=True).start()


if __name__ == '__main__':
    sys.exit(main())
