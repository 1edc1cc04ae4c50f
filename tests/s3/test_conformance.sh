#!/bin/bash
# The SDK's conformance check (mflow-plugin-check) on the s3 storage plugin, against the
# fixture's server (run under s3-fixture.sh): every operation, batches, a value larger than
# the writer threshold, concurrent puts from several processes.
: "${S3FIX_BUCKET:?run under s3-fixture.sh}"
export MFLOW_CHECK_ROOT="s3://$S3FIX_BUCKET/conformance"
exec bash "$MFLOW_TEST_SOURCE_ROOT/tests/conformance/run_check.sh" storage "$MFLOW_TEST_PLUGIN"
