#!/bin/bash
# Install the Debian packages mflow builds with (idempotent; root or sudo).
#   scripts/setup-deps.sh          what building and running flows needs
#   scripts/setup-deps.sh --test   also the real components the test suites start
#                                  (Slurm, the AWS CLI, node + npm; the S3 server and
#                                  the k8s schema validator come from npm)
#   scripts/setup-deps.sh --fuzz   also clang and its libFuzzer runtime (make fuzz)
set -euo pipefail
TEST_PKGS=""
# podman + runc + conmon: container compute (podman 4.3 with runc; crun fails on cgroup v1 hybrid
# hosts); cron: the cron scheduler plugin; python3-zstandard: the datastore format reader test;
# python3-numpy: the Python SDK's npy values; chromium: the web UI's browser test (driven by
# playwright-core from npm); wrk: the HTTP benches; locales: a locale whose decimal point is a
# comma (de_DE.UTF-8, generated below), for the task record's writers (test_record).
[ "${1:-}" = --test ] && TEST_PKGS="awscli munge slurmctld slurmd slurm-client procps podman runc conmon
catatonit uidmap containernetworking-plugins cron python3-zstandard python3-numpy chromium fonts-dejavu-core
wrk locales"
# Debian 12's clang is 14; -fsanitize=fuzzer needs its runtime package beside it, and a
# finding's stack is symbolized by llvm-symbolizer (package llvm, only recommended by clang).
[ "${1:-}" = --fuzz ] && TEST_PKGS="clang libclang-rt-14-dev llvm"
# node + npm for the npm test fixtures (the S3 server, the k8s schema validator; each is
# installed into the build tree on first use). Only when missing: a NodeSource nodejs already
# ships npm and conflicts with Debian's npm package.
if [ "${1:-}" = --test ]; then
  command -v node >/dev/null || TEST_PKGS="$TEST_PKGS nodejs"
  command -v npm >/dev/null || TEST_PKGS="$TEST_PKGS npm"
  # kubectl only reads kubeconfig files in the tests (the k8s_kubectl reference check)
  command -v kubectl >/dev/null || TEST_PKGS="$TEST_PKGS kubernetes-client"
fi
PKGS="$TEST_PKGS meson ninja-build pkg-config gcc libc6-dev libltdl-dev libcurl4-openssl-dev libarchive-dev
liblmdb-dev libhwloc-dev libjansson-dev libcmocka-dev libzstd-dev libssl-dev nettle-dev libyaml-dev hwloc
libmicrohttpd-dev
python3 ${MFLOW_EXTRA_PKGS:-}"
missing=()
for p in $PKGS; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = --test ] && ! locale -a 2>/dev/null | grep -qix 'de_DE.utf8'; then
  $SUDO localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi
