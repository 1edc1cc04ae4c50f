# Shared by the format suite: the e2e helpers, and a Python that has zstandard.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
FMT=$SRC/tests/format
PY=
# Debian's python3-zstandard is for Debian's python3, which a pyenv or venv on PATH may hide.
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import zstandard' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "SKIP: no python3 with the zstandard module (Debian: python3-zstandard)"; exit 77
fi
