"""A minimal task server client for the tests: starts `mflow [GLOBALS] __task-server` and
runs each task given as a JSON line on stdin ({"argv": [...], "env": {...}, "log": PATH}) to
its end, printing its exit status a line. Speaks sdk/include/mflow/task_server.h."""
import json, os, socket, struct, subprocess, sys

MAGIC = 0x4d465453
mflow, globals_ = sys.argv[1], json.loads(sys.argv[2])
req, req_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
evt, evt_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
server = subprocess.Popen([mflow] + globals_ + ['__task-server'], stdin=req_peer, stdout=evt_peer)
req_peer.close()
evt_peer.close()
hello = req.recv(16)
assert struct.unpack('=IIiI', hello)[0] == MAGIC, 'no hello from the task server'
for line in sys.stdin:
    t = json.loads(line)
    argv, env = [mflow] + t['argv'], [f'{k}={v}' for k, v in t['env'].items()]
    payload = b''.join(s.encode() + b'\0' for s in argv + env)
    head = struct.pack('=IIIIIIQ', MAGIC, len(argv), len(env), 3, 0, 0, 0)
    log = os.open(t['log'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open('/dev/null', os.O_RDONLY)
    socket.send_fds(req, [head + payload], [null, log, log])
    os.close(log)
    os.close(null)
    pid, err = struct.unpack('=ii', req.recv(8))
    assert pid > 0, f'the task server could not fork: errno {err}'
    while True:
        epid, status = struct.unpack('=ii', evt.recv(8))
        if epid == pid:
            break
    print(os.waitstatus_to_exitcode(status), flush=True)
req.close()
server.wait()
evt.close()
