#!/usr/bin/env python3
"""Checks the worked examples and figures of sdk/DATASTORE.md against the reference reader:
the bytes of each worked example decode to the value the text names and hash to the key it
gives, and the expansion limit and version numbers the text states are the reader's.

  doc_check.py DATASTORE.md
"""
import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reader  # noqa: E402


def hexbytes(block):
    """The hex byte pairs of a code block's lines, up to each line's comment or meaning."""
    out = bytearray()
    for line in block.splitlines():
        line = re.sub(r"^\d+\s+", "", line.strip())     # an offset column
        m = re.match(r"^((?:[0-9a-f]{2}\s+)*[0-9a-f]{2})(\s|$)", line)
        if m:
            out += bytes.fromhex(m.group(1).replace(" ", ""))
    return bytes(out)


def main(argv):
    text = open(argv[1], encoding="utf-8").read()
    bad = []
    blocks = re.findall(r"```\n(.*?)```", text, re.S)

    def check(what, ok):
        print(("ok: " if ok else "FAIL: ") + what)
        if not ok:
            bad.append(what)

    # the blob of the i64 42: header and value
    b42 = next(hexbytes(b) for b in blocks if "MFB1, codec 0, reserved, length 16" in b)
    key42 = "391d9cc4846b22484fde7a13b50f86005193260a8114cb69c3001ff1688c791a"
    check("the i64 42 example blob is 32 bytes", len(b42) == 32)
    check("its value hashes to the key in the text",
          hashlib.sha256(b42[16:]).hexdigest() == key42 and key42 in text)
    check("its value decodes to 42", reader.decode(b42[16:]) == ("i64", 42))
    check("its storage key is in the text", f"blobs/39/{key42}" in text)
    v42 = next(hexbytes(b) for b in blocks if "42 as 8 bytes" in b)
    check("the encoded-value example is the same 16 bytes", v42 == b42[16:])
    # the str[] example
    sv = next(hexbytes(b) for b in blocks if "count = 2" in b)
    check("the str[] example is 35 bytes", len(sv) == 35 and "35 bytes in all" in text)
    check("it decodes to ['a', 'bc']", reader.decode(sv) == ("str[]", [b"a", b"bc"]))
    check("it hashes to the key in the text",
          hashlib.sha256(sv).hexdigest() in text)
    # the f64 1.5 and the i64 -2 in the text
    m = re.search(r"the `f64` 1.5 is\s+`([0-9a-f ]+)`", text)
    check("the f64 1.5 example decodes", m and
          reader.decode(bytes.fromhex(m.group(1).replace(" ", ""))) == ("f64", 1.5))
    # figures
    check("the expansion limit is the reader's",
          f"length < {reader.MAX_RATIO} × (n + 1)" in text
          and f"floor(length / {reader.MAX_RATIO}) > n" in text)
    check("record format in the version table",
          re.search(r"`\"format\"` \| `%d`" % reader.RECORD_FORMAT, text) is not None)
    check("no pointer to a source file that is not installed",
          not re.search(r"core/(src|cli)/", text))
    print(f"{len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
