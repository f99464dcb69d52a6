#!/bin/sh
# bench/knnlm.sh: kNN-LM on loupe's default GPT-2 (issue 13's target: held-out
# perplexity at least 10 % lower with a datastore over the model's training
# text, λ, k and T tuned on a separate part of the held-out text).
#
#   sh bench/knnlm.sh [WORK]      # WORK: scratch directory (default /tmp/loupe-knnlm)
#
# 1. the training text: defaults/kjv/verses.jsonl.gz (the held-in verses)
#    regrouped one chapter per line, as defaults/build.sh trained the model
#    (--documents lines: each chapter followed by <|endoftext|>);
# 2. the held-out chapters (defaults/kjv/heldout.txt, chapter numbers that are
#    multiples of 10): the first half of the lines to tune on, the second
#    half to evaluate;
# 3. plain forward time (loupe eval perplexity over the training text, same
#    windows; and bench/knnlmspeed on 100 chapters, which also times a
#    forward without the LM head) vs datastore build time (flat index);
# 4. loupe knnlm tune on the first half, then loupe eval perplexity with and
#    without --knn on the second half, with the tuned setting.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/loupe-knnlm}
mkdir -p "$WORK"
LOUPE="$WORK/loupe"
(cd "$ROOT" && go build -o "$LOUPE" ./cmd/loupe)
export LOUPE_NO_PROGRESS=1

zcat "$ROOT/defaults/kjv/verses.jsonl.gz" | /usr/bin/python3 -c '
import json, sys
chapters, cur = [], None
for line in sys.stdin:
    v = json.loads(line)
    ch = v["ref"].rsplit(":", 1)[0]
    if ch != cur:
        chapters.append([])
        cur = ch
    chapters[-1].append(v["text"])
for c in chapters:
    print(" ".join(c))
' >"$WORK/train.txt"
n=$(wc -l <"$ROOT/defaults/kjv/heldout.txt")
head -n $((n / 2)) "$ROOT/defaults/kjv/heldout.txt" >"$WORK/tune.txt"
tail -n +$((n / 2 + 1)) "$ROOT/defaults/kjv/heldout.txt" >"$WORK/test.txt"
echo "training text: $(wc -l <"$WORK/train.txt") chapters, $(wc -w <"$WORK/train.txt") words; tune: $(wc -l <"$WORK/tune.txt") chapters; test: $(wc -l <"$WORK/test.txt") chapters"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) threads, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Plain forward pass over the same windows (with the LM head at every position).
"$LOUPE" eval perplexity --format json "$WORK/train.txt" >"$WORK/forward.json"
echo "plain forward (loupe eval perplexity on the training text): $(cat "$WORK/forward.json")"

# The same comparison on the first 100 chapters, alternating the three runs
# (less sensitive to other load on the machine).
(cd "$ROOT" && go run ./bench/knnlmspeed -chapters 100 -rounds 2 "$WORK/train.txt")

rm -rf "$WORK/kjv.knn"
"$LOUPE" knnlm build --corpus "$WORK/train.txt" --documents lines --out "$WORK/kjv.knn" --format json >"$WORK/build.json"
echo "build: $(cat "$WORK/build.json")"
echo "datastore size: $(du -sh "$WORK/kjv.knn" | cut -f1)"

"$LOUPE" knnlm tune --datastore "$WORK/kjv.knn" --format json "$WORK/tune.txt" >"$WORK/tune.json"
best=$(/usr/bin/python3 - "$WORK/tune.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = sorted(r["rows"], key=lambda x: x["nll"])
print("tune: baseline perplexity %.3f over %d tokens, %.1fs searching; best 10 of %d settings:" % (r["baseline_perplexity"], r["tokens"], r["search_seconds"], len(rows)), file=sys.stderr)
for x in rows[:10]:
    print("  lambda %-5g k %-5d T %-4g perplexity %.3f (%.1f %% lower)" % (x["lambda"], x["k"], x["temperature"], x["perplexity"], 100 * x["drop"]), file=sys.stderr)
b = r["best"]
print(b["lambda"], b["k"], b["temperature"])
PY
)
set -- $best
"$LOUPE" eval perplexity --format json "$WORK/test.txt" >"$WORK/test-base.json"
"$LOUPE" eval perplexity --format json --knn "$WORK/kjv.knn" --lambda "$1" --k "$2" --knn-temperature "$3" "$WORK/test.txt" >"$WORK/test-knn.json"
"$LOUPE" eval perplexity --format json --knn "$WORK/kjv.knn" "$WORK/test.txt" >"$WORK/test-knn-paper.json"
/usr/bin/python3 - "$WORK" "$1" "$2" "$3" <<'PY'
import json, sys
w = sys.argv[1]
f = json.load(open(w + "/forward.json")); b = json.load(open(w + "/build.json"))
base = json.load(open(w + "/test-base.json")); knn = json.load(open(w + "/test-knn.json")); paper = json.load(open(w + "/test-knn-paper.json"))
print("| measure | value |")
print("| --- | --- |")
print("| training tokens (keys) | %d |" % b["keys"])
print("| plain forward, eval perplexity (s) | %.1f (%.0f tok/s) |" % (f["seconds"], f["tokens"] / f["seconds"]))
print("| datastore build, flat (s) | %.1f (%.0f keys/s, %.2fx the forward's speed) |" % (b["build_seconds"], b["keys"] / b["build_seconds"], (b["keys"] / b["build_seconds"]) / (f["tokens"] / f["seconds"])))
print("| tuned on first half | lambda %s, k %s, T %s |" % tuple(sys.argv[2:5]))
print("| test perplexity, model alone | %.3f (%d tokens) |" % (base["perplexity"], base["tokens"]))
print("| test perplexity, kNN-LM tuned | %.3f (%.1f %% lower), search %.1fs |" % (knn["perplexity"], 100 * (1 - knn["perplexity"] / base["perplexity"]), knn["search_seconds"]))
print("| test perplexity, kNN-LM paper defaults (0.25, 1024, 1) | %.3f (%.1f %% lower) |" % (paper["perplexity"], 100 * (1 - paper["perplexity"] / base["perplexity"])))
PY
