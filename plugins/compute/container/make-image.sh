#!/bin/bash
# Build a runnable image with mflow in it, with no registry access: a minimal root filesystem
# made of the built mflow (meson install into it), the shared libraries it, its plugins and a
# few shell tools need (copied from this machine's /usr), and nothing else; imported into the
# engine as localhost/mflow:VERSION (podman import / docker import).
#
# Usage: make-image.sh [--python] BUILD_DIR [TAG]
#   --python  also Debian's python3 (this machine's /usr/bin/python3, its standard library
#             and the shared libraries its modules load), for Python flows; the Python SDK is
#             installed with mflow either way. Default tag localhost/mflow:VERSION-python.
# Env:   ENGINE (podman), ENGINE_FLAGS (e.g. "--root DIR --runroot DIR"), EXTRA_BINS (more
#        host programs to copy in, with their libraries), PYTHON (/usr/bin/python3).
# Prints the image name on its last line. Runs in about a second; the image is ~20 MB
# (about 40 MB more with --python).
set -euo pipefail
WITH_PYTHON=0
if [ "${1:-}" = --python ]; then WITH_PYTHON=1; shift; fi
BUILD=${1:?usage: make-image.sh [--python] BUILD_DIR [TAG]}
ENGINE=${ENGINE:-podman}
read -r -a EFLAGS <<<"${ENGINE_FLAGS:-}"
VERSION=$("$BUILD/core/mflow" --version 2>/dev/null | awk '{print $2; exit}')
TAG=${2:-localhost/mflow:${VERSION:-dev}$([ $WITH_PYTHON = 1 ] && echo -python)}
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/mflow-image.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT

meson install -C "$BUILD" --destdir "$ROOT" --no-rebuild --quiet >/dev/null
# Merged /usr, as on Debian 12: /bin, /lib and /lib64 are links into /usr.
mkdir -p "$ROOT"/usr/{bin,lib,lib64} "$ROOT"/{etc,tmp,proc,sys,dev,root,run,var/tmp}
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
for l in bin lib lib64 sbin; do [ -e "$ROOT/$l" ] || ln -s "usr/${l/sbin/bin}" "$ROOT/$l"; done

# Copy a host file to the same path in the image, following links (and keeping the link).
copy() {
  local f=$1 real
  [ -e "$ROOT$f" ] && return 0
  real=$(readlink -f "$f")
  mkdir -p "$ROOT$(dirname "$real")" "$ROOT$(dirname "$f")"
  [ -e "$ROOT$real" ] || cp -p "$real" "$ROOT$real"
  [ -e "$ROOT$f" ] || ln -s "$real" "$ROOT$f"
}
# The libraries a program or library loads (resolved on this machine), copied in.
libs_of() {
  { ldd "$1" 2>/dev/null || true; } | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' |
    while read -r lib; do copy "$lib"; done
}
with_libs() { copy "$1"; libs_of "$1"; }
bins=(sh dash cat true false sleep env ls mkdir rm id echo head tail wc grep ${EXTRA_BINS:-})
for b in "${bins[@]:-}"; do
  p=$(type -P "$b") || { echo "make-image: $b is not on this machine's PATH" >&2; exit 1; }
  with_libs "$(readlink -f "$p")"
  [ -e "$ROOT/usr/bin/$b" ] || ln -s "$(readlink -f "$p")" "$ROOT/usr/bin/$b"
done
# python3 and its standard library, as Debian lays them out (the interpreter finds its
# library by its own path), without the parts a task never imports (tests, IDLE, tkinter,
# the static libpython of config-*); each extension module's libraries copied in.
if [ $WITH_PYTHON = 1 ]; then
  PY=${PYTHON:-/usr/bin/python3}
  [ -x "$PY" ] || { echo "make-image: $PY is missing (--python copies Debian's python3: apt-get install python3)" >&2; exit 1; }
  with_libs "$(readlink -f "$PY")"
  [ -e "$ROOT/usr/bin/python3" ] || ln -s "$(readlink -f "$PY")" "$ROOT/usr/bin/python3"
  STDLIB=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
  case $STDLIB in /usr/lib/*) ;; *) echo "make-image: $PY is not Debian's python3 (its library is $STDLIB); set PYTHON=/usr/bin/python3" >&2; exit 1 ;; esac
  mkdir -p "$ROOT$STDLIB"
  tar -C "$STDLIB" -c --exclude=./test --exclude=./idlelib --exclude=./tkinter \
    --exclude=./turtledemo --exclude=./lib2to3 --exclude=./ensurepip --exclude='./config-*' \
    --exclude=./dist-packages --exclude=./site-packages . | tar -C "$ROOT$STDLIB" -x
  # links in it that lead out of it (sitecustomize.py -> /etc/python3.X/)
  while IFS= read -r -d '' l; do
    t=$(readlink -f "$STDLIB/${l#"$ROOT$STDLIB"/}") || continue
    case $t in "$STDLIB"/*) ;; *) [ -e "$t" ] && copy "$t" ;; esac
  done < <(find "$ROOT$STDLIB" -type l -print0)
  while IFS= read -r -d '' f; do libs_of "$f"; done < <(find "$ROOT$STDLIB/lib-dynload" -name '*.so' -print0)
fi
# mflow, libmflow and the plugins as installed into the image.
while IFS= read -r -d '' f; do libs_of "$f"; done < <(find "$ROOT/usr/local" \( -name '*.so*' -o -path '*/bin/*' \) -type f -print0)
# The installed mflow finds its libmflow and plugins under /usr/local.
find "$ROOT/usr" -name '*.so*' -printf '%h\n' | sed "s|^$ROOT||" | sort -u >"$ROOT/etc/ld.so.conf"
[ -x /sbin/ldconfig ] && /sbin/ldconfig -r "$ROOT" 2>/dev/null || true
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
cp /etc/debian_version "$ROOT/etc/debian_version" 2>/dev/null || true
cp /etc/os-release "$ROOT/etc/os-release" 2>/dev/null || true
tar -C "$ROOT" -c . | "$ENGINE" "${EFLAGS[@]}" import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'WORKDIR /' - "$TAG" >/dev/null
echo "$TAG"
