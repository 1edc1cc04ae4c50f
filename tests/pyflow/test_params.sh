#!/bin/bash
# Parameters of Python flows: types, defaults, required, bad values; read as attributes.
. "$(dirname "$0")/lib.sh"
F=$PYFLOWS/params.py

run_flow "$F" --seed=1; rc=$?
check_eq "defaults: exit" 0 "$rc"
check_eq "defaults: alpha*epochs+seed" "base 2.5 off" "$(mflow get "ParamFlow/$RUN/end" shown)"
check_eq "python types of parameters" "float:int:bool" "$(mflow get "ParamFlow/$RUN/start" kind)"
check_eq "a parameter is an artifact" 0.5 "$(mflow get "ParamFlow/$RUN/start" alpha)"

run_flow "$F" --seed=7 --alpha=0.25 --verbose=true --label=new --epochs=4; rc=$?
check_eq "given: exit" 0 "$rc"
check_eq "given: values" "new 8.0 on" "$(mflow get "ParamFlow/$RUN/end" shown)"
run_flow "$F" --seed=-2 --verbose=no --epochs=10; rc=$?
check_eq "given again: values" "base 3.0 off" "$(mflow get "ParamFlow/$RUN/end" shown)"

run_fails "a required parameter" 1 "needs parameter 'seed': add --seed=VALUE (random seed)" \
  mflow run "$F"
run_fails "a bad int" 1 "parameter 'seed' must be an integer, not 'x'" mflow run "$F" --seed=x
run_fails "a bad float" 1 "parameter 'alpha'" mflow run "$F" --seed=1 --alpha=fast
run_fails "an unknown parameter" 1 "has no parameter 'betta'" mflow run "$F" --seed=1 --betta=1

OUT=$(mflow show "$F" 2>&1)
check_contains "show: help and default" "--alpha    f64   default 0.5  learning rate" "$OUT"
check_contains "show: required" "--seed     i64   required  random seed" "$OUT"
check_contains "show: bool" "--verbose  bool  default false" "$OUT"

# a parameter set in a step fails it
cat > "$WORK/setparam.py" <<'PY'
from mflow import FlowSpec, Parameter, step
class SetParamFlow(FlowSpec):
    n = Parameter("n", default=1)
    @step
    def start(self):
        self.n = 2
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "setting a parameter" 1 "AttributeError: parameter 'n' cannot be set" mflow run "$WORK/setparam.py"

# a bool parameter's default given as a string is refused (default="false" ran with True)
cat > "$WORK/booldefault.py" <<'PY'
from mflow import FlowSpec, step, Parameter
class BoolDefault(FlowSpec):
    dry = Parameter("dry", default="false", type=bool)
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "a bool parameter with a str default" 1 "Parameter 'dry': the default of a bool parameter is True or False, not 'false'" mflow run "$WORK/booldefault.py"
finish
