#!/bin/sh
# A stand-in for crontab(1), named as such: it keeps "the user's crontab" in the file
# $FAKE_CRONTAB_FILE and answers -l, - and -r as Debian's crontab does ("no crontab for USER"
# and exit 1 when there is none). With FAKE_CRONTAB_FAIL set, every call fails.
f=${FAKE_CRONTAB_FILE:?FAKE_CRONTAB_FILE is not set}
if [ -n "${FAKE_CRONTAB_FAIL:-}" ]; then echo "crontab: $FAKE_CRONTAB_FAIL" >&2; exit 1; fi
case "$1" in
  -l) if [ -e "$f" ]; then cat "$f"; else echo "no crontab for ${USER:-user}" >&2; exit 1; fi ;;
  -) cat > "$f.new" && mv "$f.new" "$f" ;;
  -r) if [ -e "$f" ]; then rm -f "$f"; else echo "no crontab for ${USER:-user}" >&2; exit 1; fi ;;
  *) echo "crontab: usage: crontab -l | - | -r" >&2; exit 1 ;;
esac
