#!/bin/bash
# The SDK's conformance check (mflow-plugin-check --kind=compute) on the slurm plugin against
# the fixture's single-node Slurm (run under slurm-fixture.sh): sbatch'ed /bin/sh jobs, their
# exit codes and output, scancel, timeout_s, check against sinfo, describe. A backend slower
# to stop a job past timeout_s may give MFLOW_CHECK_TIMEOUT_WAIT (seconds, default 40).
: "${MFLOW_TEST_PLUGIN:?run through meson test}"
exec bash "$MFLOW_TEST_SOURCE_ROOT/tests/conformance/run_check.sh" compute "$MFLOW_TEST_PLUGIN"
