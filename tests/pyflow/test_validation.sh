#!/bin/bash
# The validator on Python flows: the core's messages, with the line of the step they name.
. "$(dirname "$0")/lib.sh"

# write NAME BODY: a flow file $WORK/NAME.py with the class header and imports
write() {
  { echo "from mflow import FlowSpec, step"; echo "class V(FlowSpec):"; cat; } > "$WORK/$1.py"
}

write nonext <<'PY'
    @step
    def start(self):
        self.next(self.a)
    @step
    def a(self):
        self.x = 1
    @step
    def end(self):
        pass
PY
run_fails "a step that does not call next" 1 "nonext.py:7: flow V: step 'a' has no successors: call self.next(...) in it (only 'end' finishes the flow)" \
  mflow check "$WORK/nonext.py"

write unknown <<'PY'
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.jion)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "an unknown successor" 1 "unknown.py:8: flow V: step 'a' names unknown successor 'jion' (did you mean 'join'?)" \
  mflow run "$WORK/unknown.py"

write notjoin <<'PY'
    @step
    def start(self):
        self.next(self.a, self.b)
    @step
    def a(self):
        self.next(self.join)
    @step
    def b(self):
        self.next(self.join)
    @step
    def join(self):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "a join that is not" 1 "notjoin.py:13: flow V: step 'join' has 2 inputs (a, b) but is not a join: give it an inputs argument: def STEP(self, inputs)" \
  mflow check "$WORK/notjoin.py"

write nostart <<'PY'
    @step
    def begin(self):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "no start step" 1 "nostart.py:2: flow V: no step named 'start'" mflow check "$WORK/nostart.py"

write twonext <<'PY'
    @step
    def start(self):
        if 1:
            self.next(self.a)
        else:
            self.next(self.end)
    @step
    def a(self):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "two different transitions" 1 "twonext.py:8: step 'start' calls self.next() with other successors than on line 6" \
  mflow check "$WORK/twonext.py"

write badarg <<'PY'
    @step
    def start(self):
        nxt = self.end
        self.next(nxt)
    @step
    def end(self):
        pass
PY
run_fails "next with a non-step" 1 "badarg.py:6: step 'start': self.next() takes steps as self.NAME, not nxt" \
  mflow check "$WORK/badarg.py"

printf 'from mflow import FlowSpec\nx = 1\n' > "$WORK/noflow.py"
run_fails "no FlowSpec" 1 "defines no flow: define a class that subclasses FlowSpec" mflow check "$WORK/noflow.py"
printf 'from mflow import FlowSpec\nclass X(FlowSpec:\n    pass\n' > "$WORK/syntax.py"
run_fails "a syntax error" 1 "syntax.py:2:" mflow check "$WORK/syntax.py"
printf 'import no_such_module_here\n' > "$WORK/imports.py"
run_fails "an import error" 1 "ModuleNotFoundError: No module named 'no_such_module_here'" mflow check "$WORK/imports.py"

# a valid flow checks; its cached graph follows an edit
run_ok "check a valid flow" mflow check "$PYFLOWS/branch.py"
cp "$PYFLOWS/linear.py" "$WORK/edit.py"
run_ok "check before the edit" mflow check "$WORK/edit.py"
sed -i 's/self.next(self.middle)/self.next(self.midle)/' "$WORK/edit.py"
run_fails "the edit is seen" 1 "edit.py:6: flow LinearFlow: step 'start' names unknown successor 'midle' (did you mean 'middle'?)" \
  mflow check "$WORK/edit.py"
# a module the flow imports from its directory is part of the cache's key
printf 'NEXT = 1\n' > "$WORK/helper_mod.py"
cat > "$WORK/usesmod.py" <<'PY'
from mflow import FlowSpec, step, retry
import helper_mod
class ModFlow(FlowSpec):
    @retry(times=helper_mod.NEXT)
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_ok "show with a helper module" mflow show "$WORK/usesmod.py"
check_contains "retry from the module" "retry=1" "$OUT"
printf 'NEXT = 4\n' > "$WORK/helper_mod.py"
run_ok "show after the module changed" mflow show "$WORK/usesmod.py"
check_contains "the module's change is seen" "retry=4" "$OUT"

# a class defined twice: the graph is the second's, the class the module runs (it was the
# first's: the second's extra step was skipped and the run still succeeded)
run_flow "$PYFLOWS/redefined.py"; rc=$?
check_eq "redefined class: exit" 0 "$rc"
check_eq "the second class's extra step ran" true "$(mflow get "Redefined/$RUN/check" ok)"
check_contains "the second class's end" "second end 2 True" "$(mflow logs "Redefined/$RUN/end")"

# a step with a yield (or async) is refused: calling it ran nothing, and an end step so
# written succeeded having done nothing
cat > "$WORK/genstep.py" <<'PY'
from mflow import FlowSpec, step
class GenStep(FlowSpec):
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        self.result = 1
        yield self.result
PY
run_fails "a generator step" 1 "step 'end' is a generator function: a step is a plain def" mflow run "$WORK/genstep.py"
sed -i 's/    def end/    async def end/; s/        yield self.result/        pass/' "$WORK/genstep.py"
run_fails "an async step" 1 "step 'end' is a coroutine function" mflow run "$WORK/genstep.py"
finish
