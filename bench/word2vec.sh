#!/usr/bin/env bash
# word2vec benchmark: loupe against gensim (Debian's python3-gensim) on the
# same corpus and hyperparameters, in the same run.
#
# Corpus: Debian's dict-gcide (/usr/share/dictd/gcide.dict.dz), lower-cased
# a-z words, one paragraph per line (~5.4M words), built by
# bench/word2vec_corpus.py into a temporary directory.
# Training: skip-gram, size 100, window 5, negative 5, sample 1e-3,
# min-count 5, 5 epochs, 2 threads. Speed = raw corpus words × epochs / wall
# seconds of vocabulary building + training (both sides). Quality = analogy
# accuracy on questions-words.txt restricted to the 30,000 most frequent
# words, scored by loupe's evaluator and by gensim's evaluate_word_analogies.
#
# Usage: bench/word2vec.sh            (RUNS=n to take the best of n runs;
#        EPOCHS, THREADS, WORDS=n to cut the corpus to its first n lines,
#        GENSIM_MODES="file iter" to choose gensim's corpus_file and/or
#        LineSentence paths; QUESTIONS=path)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
RUNS=${RUNS:-1}
EPOCHS=${EPOCHS:-5}
THREADS=${THREADS:-2}
GENSIM_MODES=${GENSIM_MODES:-"file iter"}
QUESTIONS=${QUESTIONS:-/work/shared/data/questions-words.txt}
[ -f "$QUESTIONS" ] || QUESTIONS=../shared/data/questions-words.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/loupe" ./cmd/loupe
$PY bench/word2vec_corpus.py > "$tmp/corpus.txt"
if [ -n "${LINES_LIMIT:-}" ]; then
	head -n "$LINES_LIMIT" "$tmp/corpus.txt" > "$tmp/c2" && mv "$tmp/c2" "$tmp/corpus.txt"
fi
echo "corpus: $(wc -w < "$tmp/corpus.txt") words, $(wc -l < "$tmp/corpus.txt") lines; nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"

best() { # best words/s of the JSON lines in $1
	$PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]; b=max(r,key=lambda x:x["words_per_second"]); print(b["words_per_second"], b["seconds"], b["vocab"])' "$1"
}
acc_loupe() { "$tmp/loupe" word2vec eval --vectors "$1" --analogies "$QUESTIONS" --restrict 30000 --format json |
	$PY -c 'import json,sys; t=json.load(sys.stdin)["analogies"]["total"]; print("%.2f %d %d" % (100*t["accuracy"], t["correct"], t["seen"]))'; }
acc_gensim() { $PY bench/word2vec_gensim.py eval "$1" "$QUESTIONS" 30000 |
	$PY -c 'import json,sys; t=json.load(sys.stdin); print("%.2f %d %d" % (100*t["accuracy"], t["correct"], t["seen"]))'; }

for r in $(seq "$RUNS"); do
	LOUPE_NO_PROGRESS=1 "$tmp/loupe" word2vec train --corpus "$tmp/corpus.txt" --out "$tmp/loupe.bin" --sg \
		--size 100 --window 5 --negative 5 --sample 1e-3 --min-count 5 --epochs "$EPOCHS" --threads "$THREADS" --seed "$r" --format json >> "$tmp/loupe.json"
	tail -n1 "$tmp/loupe.json"
	for mode in $GENSIM_MODES; do
		$PY bench/word2vec_gensim.py train "$tmp/corpus.txt" "$tmp/gensim-$mode.bin" "$mode" "$THREADS" "$EPOCHS" >> "$tmp/gensim-$mode.json" 2>/dev/null
		echo "gensim $mode: $(tail -n1 "$tmp/gensim-$mode.json")"
	done
done

read -r lw ls lv < <(best "$tmp/loupe.json")
printf '\n%-26s %12s %8s %8s %22s %22s\n' "trainer" "words/s" "seconds" "vocab" "analogy (loupe eval)" "analogy (gensim eval)"
printf '%-26s %12.0f %8.1f %8d %22s %22s\n' "loupe" "$lw" "$ls" "$lv" "$(acc_loupe "$tmp/loupe.bin")" "$(acc_gensim "$tmp/loupe.bin")"
for mode in $GENSIM_MODES; do
	read -r gw gs gv < <(best "$tmp/gensim-$mode.json")
	label="gensim ($([ "$mode" = file ] && echo corpus_file || echo LineSentence))"
	printf '%-26s %12.0f %8.1f %8d %22s %22s\n' "$label" "$gw" "$gs" "$gv" "$(acc_loupe "$tmp/gensim-$mode.bin")" "$(acc_gensim "$tmp/gensim-$mode.bin")"
	echo "$lw $gw" | awk -v l="$label" '{printf "speed ratio loupe / %s: %.2fx\n", l, $1/$2}'
done
echo "(analogy columns: accuracy % correct/seen on questions-words.txt, top 30000 words; load at end $(cut -d' ' -f1-3 /proc/loadavg))"
