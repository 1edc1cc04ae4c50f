"""python3 -m mflow graph FLOW.py | task FLOW.py STEP ... | __task-server"""
import sys


def main():
    argv = sys.argv[1:]
    cmd = argv[0] if argv else ""
    if cmd == "graph":
        from .graph import main as graph_main
        return graph_main(argv[1:])
    if cmd == "task":
        from .task import main as task_main
        return task_main(argv[1:])
    if cmd == "__endpoint-server":
        from .endpoint_server import main as endpoint_main
        return endpoint_main(argv[1:])
    if cmd == "__task-server":
        from .task_server import main as server_main
        return server_main(argv[1:])
    sys.stderr.write("usage: python3 -m mflow graph FLOW.py | task FLOW.py STEP ...\n"
                     "(run a flow with `mflow run FLOW.py` or `python3 FLOW.py run`)\n")
    return 2


sys.exit(main())
