#!/bin/bash
# Interoperability of the s3 storage plugin with the AWS CLI, on the fixture's server: objects
# mflow writes (small, multipart, odd names) are readable with `aws s3`, and data a user
# uploaded with `aws s3 cp` (multipart, recursive) is readable, listable and deletable by
# mflow; a profile written by `aws configure` is found. Run under s3-fixture.sh (meson test
# --suite s3); skipped (77) without the AWS CLI. Uses $S3TOOL (tests/s3/s3tool.c).
set -euo pipefail

AWS=${MFLOW_TEST_AWS:-/usr/bin/aws}
[ -x "$AWS" ] || AWS=$(command -v aws || true)
if [ -z "$AWS" ]; then
  echo "SKIP: no AWS CLI (scripts/setup-s3-deps.sh installs Debian's awscli)"
  exit 77
fi
: "${S3TOOL:?set S3TOOL to the built tests/s3/s3tool}" "${S3FIX_ENDPOINT:?run under s3-fixture.sh}"
A=("$AWS" --endpoint-url "$S3FIX_ENDPOINT")
B=$S3FIX_BUCKET
export MFLOW_DATASTORE_ROOT="s3://$B/interop"
T=$S3FIX_DIR/interop
rm -rf "$T"
mkdir -p "$T/up/dir"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "mflow writes, the AWS CLI reads"
head -c 100000 /dev/urandom >"$T/small"
head -c $((12 * 1024 * 1024 + 5)) /dev/urandom >"$T/big"
"$S3TOOL" put blobs/ab/small "$T/small"
MFLOW_S3_MULTIPART_THRESHOLD=5MiB MFLOW_S3_PART_SIZE=5MiB "$S3TOOL" putmem blobs/ab/big "$T/big"
"${A[@]}" s3 cp "s3://$B/interop/blobs/ab/small" "$T/small.aws" --no-progress >/dev/null
cmp "$T/small" "$T/small.aws" || fail "small object differs through the AWS CLI"
"${A[@]}" s3 cp "s3://$B/interop/blobs/ab/big" "$T/big.aws" --no-progress >/dev/null
cmp "$T/big" "$T/big.aws" || fail "multipart object differs through the AWS CLI"
odd='runs/My Flow/1/é x+y&z=1.json'
printf '{"odd": true}' >"$T/odd"
"$S3TOOL" put "$odd" "$T/odd"
[ "$("${A[@]}" s3 cp "s3://$B/interop/$odd" -)" = '{"odd": true}' ] || fail "odd key unreadable with the AWS CLI"
len=$("${A[@]}" s3api head-object --bucket "$B" --key "interop/blobs/ab/big" --query ContentLength --output text)
[ "$len" = $((12 * 1024 * 1024 + 5)) ] || fail "head-object says $len bytes"
listing=$("${A[@]}" s3 ls --recursive "s3://$B/interop/")
echo "$listing" | grep -q "interop/blobs/ab/small$" || fail "aws s3 ls misses blobs/ab/small: $listing"
echo "$listing" | grep -qF "interop/$odd" || fail "aws s3 ls misses the odd key: $listing"

step "the AWS CLI writes, mflow reads"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/up/big2"   # aws: multipart, 8 MiB chunks
echo "a b" >"$T/up/dir/a b.txt"
echo "plus" >"$T/up/dir/c+d.txt"
printf 'x%.0s' $(seq 1 5000) >"$T/up/dir/x"
"${A[@]}" s3 cp --recursive "$T/up" "s3://$B/interop/fromaws" --no-progress >/dev/null
"$S3TOOL" get fromaws/big2 "$T/big2.mflow"
cmp "$T/up/big2" "$T/big2.mflow" || fail "object uploaded by the AWS CLI differs through mflow"
[ "$("$S3TOOL" cat "fromaws/dir/a b.txt")" = "a b" ] || fail "cat 'a b.txt'"
[ "$("$S3TOOL" cat "fromaws/dir/c+d.txt")" = "plus" ] || fail "cat c+d.txt"
got=$("$S3TOOL" ls fromaws/ | sort)
want=$(printf '%s\n' "20971520 fromaws/big2" "4 fromaws/dir/a b.txt" "5 fromaws/dir/c+d.txt" "5000 fromaws/dir/x" | sort)
[ "$got" = "$want" ] || fail "mflow lists the AWS CLI's upload as: $got"
out=$("$S3TOOL" getdir fromaws "$T/down")
[ "$out" = "4 objects 20976529 bytes" ] || fail "getdir: $out"
cmp "$T/up/dir/x" "$T/down/dir/x" || fail "getdir copy differs"

step "mflow deletes, the AWS CLI sees it gone"
"$S3TOOL" rm "fromaws/dir/x"
if "${A[@]}" s3api head-object --bucket "$B" --key interop/fromaws/dir/x >/dev/null 2>&1; then
  fail "deleted object still there"
fi
[ "$("$S3TOOL" exists fromaws/dir/x)" = 0 ] || fail "exists after rm"

step "a profile written by aws configure"
"$AWS" configure set aws_access_key_id "$AWS_ACCESS_KEY_ID" --profile interop
"$AWS" configure set aws_secret_access_key "$AWS_SECRET_ACCESS_KEY" --profile interop
"$AWS" configure set region us-east-1 --profile interop
grep -q '\[interop\]' "$AWS_SHARED_CREDENTIALS_FILE" || fail "aws configure did not write $AWS_SHARED_CREDENTIALS_FILE"
[ "$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=interop "$S3TOOL" cat fromaws/dir/c+d.txt)" = plus ] ||
  fail "profile 'interop' not used"
step "a second bucket made by the fixture, written by mflow, read by the AWS CLI"
"$S3FIX_SCRIPT" mb second-bucket
MFLOW_DATASTORE_ROOT=s3://second-bucket "$S3TOOL" put top-level.txt "$T/odd"
[ "$("${A[@]}" s3 cp s3://second-bucket/top-level.txt -)" = '{"odd": true}' ] || fail "second bucket"
echo "interop OK"
