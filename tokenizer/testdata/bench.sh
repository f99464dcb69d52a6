#!/bin/sh
# Encode speed of loupe's GPT-2 BPE against OpenAI's encoder as ported to
# JavaScript (npm gpt-3-encoder@1.1.4, run by node), on the same English text
# (testdata/english.txt, 1 MB in all), in one run; prints both and the ratio.
# Needs npm with network access (once, to fetch the package) and node.
#
#   sh tokenizer/testdata/bench.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null && tar xzf gpt-3-encoder-1.1.4.tgz)
repeat=$((1048576 / $(wc -c < "$here/english.txt")))
node_out=$(node "$here/bench_node.js" "$tmp/package/Encoder.js" "$here/english.txt" "$repeat")
go_out=$(cd "$root" && go test -run XXX -bench 'BPEEncode/english$' -benchtime 20x -count 5 -cpu 1 ./tokenizer | grep 'MB/s')
echo "node gpt-3-encoder: $node_out"
echo "$go_out"
node_mbs=$(echo "$node_out" | sed 's/.*"mb_per_s":\([0-9.]*\).*/\1/')
go_mbs=$(echo "$go_out" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "MB/s") print $i}' | sort -g | tail -1)
echo "best of 5: loupe $go_mbs MB/s, node $node_mbs MB/s, ratio $(echo "$go_mbs / $node_mbs" | bc -l | cut -c1-5)x (wall clock, one core)"
