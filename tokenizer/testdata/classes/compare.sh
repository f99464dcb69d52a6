#!/bin/sh
# Compares how Go (unicode.IsSpace / IsLetter / IsNumber, as the GPT-2
# pre-tokenizer uses them) and node's regular expressions (\s, \p{L}, \p{N},
# as gpt-3-encoder's Encoder.js uses them) classify every code point, and
# prints the ranges where they differ.
#
#   sh tokenizer/testdata/classes/compare.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/../../.." && go run ./tokenizer/testdata/classes) > "$tmp/go.txt"
node "$here/classes.js" > "$tmp/js.txt"
echo "node $(node --version), Unicode $(node -p process.versions.unicode); $(go version)"
/usr/bin/python3 - "$tmp/go.txt" "$tmp/js.txt" <<'PY'
import sys
names = {"0": "other", "1": "letter", "2": "number", "3": "space"}
g, j = open(sys.argv[1]).read(), open(sys.argv[2]).read()
runs = []
for i, (a, b) in enumerate(zip(g, j)):
    if a != b:
        if runs and runs[-1][1] == i - 1 and runs[-1][2] == (a, b):
            runs[-1][1] = i
        else:
            runs.append([i, i, (a, b)])
total = sum(r[1] - r[0] + 1 for r in runs)
print(f"{total} code points differ in {len(runs)} ranges (Go class / node class):")
for lo, hi, (a, b) in runs:
    print(f"  U+{lo:04X}..U+{hi:04X}  Go {names[a]:6}  node {names[b]}")
PY
