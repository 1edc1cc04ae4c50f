#!/bin/bash
# Step decorators reach the step table: resources, retry, catch, timeout, environment and
# compute (plugin, image and the plugin's own settings).
. "$(dirname "$0")/lib.sh"
F=$PYFLOWS/deco.py

OUT=$(mflow show "$F" 2>&1)
check_contains "show: every decorator" "resources cpu=2 memory=512MB  retry=4  catch=oops  timeout=65s  compute=local  image=python:3.11  env A=1  env B=two" "$OUT"
J=$(mflow show "$F" --json)
check_eq "json: timeout in seconds" 65 "$(printf '%s' "$J" | python3 -c "import json,sys; print(json.load(sys.stdin)['steps'][0]['timeout_s'])")"
check_eq "json: end has none" "0 0 None" "$(printf '%s' "$J" | python3 -c "import json,sys; s=json.load(sys.stdin)['steps'][1]; print(s['retry'], s['timeout_s'], s['catch_var'])")"
G=$("${MFLOW_PYTHON:-python3}" -m mflow graph "$F")
check_eq "graph: compute settings" '["local.cpu_bind=off"]' "$(printf '%s' "$G" | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['steps'][0]['settings']))")"
check_eq "graph: source lines" "10 15" "$(printf '%s' "$G" | python3 -c "import json,sys; print(*[s['line'] for s in json.load(sys.stdin)['steps']])")"

run_flow "$F"; rc=$?
check_eq "run: exit" 0 "$rc"
check_eq "run: the step's environment" 1 "$(mflow get "DecoFlow/$RUN/start" env_a)"

# misuse is named when the graph is read
bad() {
  printf 'from mflow import FlowSpec, step, retry, timeout, resources\nclass B(FlowSpec):\n    %s\n    @step\n    def start(self):\n        self.next(self.end)\n    @step\n    def end(self):\n        pass\n' "$1" > "$WORK/bad.py"
}
bad "@retry(times=-1)"
run_fails "negative retry" 1 "times=-1: extra attempts must be a whole number, 0 or more" mflow check "$WORK/bad.py"
bad "@timeout()"
run_fails "empty timeout" 1 "timeout() needs seconds=, minutes= or hours= above 0" mflow check "$WORK/bad.py"
bad "@resources(cpu=1.5)"
run_fails "fractional cpu" 1 "cpu=1.5: cores must be a whole number" mflow check "$WORK/bad.py"
finish
