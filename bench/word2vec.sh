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
# Because the development machine is shared, the script also reports the
# CPU time (user + system) of each training process and words per CPU
# second, which other load disturbs less than wall time.
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

best() { # best words/s of the JSON lines in $1, with the CPU seconds of that run
	$PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]; b=max(r,key=lambda x:x["words_per_second"]); print(b["words_per_second"], b["seconds"], b["vocab"], b["cpu"], b["corpus_words"]*'"$EPOCHS"'/b["cpu"])' "$1"
}
addcpu() { # append the CPU seconds recorded by /usr/bin/time in $2 to the last JSON line of $1
	$PY -c 'import json,sys; L=open(sys.argv[1]).read().splitlines(); d=json.loads(L[-1]); u,s=open(sys.argv[2]).read().split()[-2:]; d["cpu"]=float(u)+float(s); L[-1]=json.dumps(d); open(sys.argv[1],"w").write("\n".join(L)+"\n")' "$1" "$2"
}
acc_loupe() { "$tmp/loupe" word2vec eval --vectors "$1" --analogies "$QUESTIONS" --restrict 30000 --format json |
	$PY -c 'import json,sys; t=json.load(sys.stdin)["analogies"]["total"]; print("%.2f %d %d" % (100*t["accuracy"], t["correct"], t["seen"]))'; }
acc_gensim() { $PY bench/word2vec_gensim.py eval "$1" "$QUESTIONS" 30000 |
	$PY -c 'import json,sys; t=json.load(sys.stdin); print("%.2f %d %d" % (100*t["accuracy"], t["correct"], t["seen"]))'; }

for r in $(seq "$RUNS"); do
	LOUPE_NO_PROGRESS=1 /usr/bin/time -f "%U %S" -o "$tmp/time" "$tmp/loupe" word2vec train --corpus "$tmp/corpus.txt" --out "$tmp/loupe.bin" --sg \
		--size 100 --window 5 --negative 5 --sample 1e-3 --min-count 5 --epochs "$EPOCHS" --threads "$THREADS" --seed "$r" --format json >> "$tmp/loupe.json"
	addcpu "$tmp/loupe.json" "$tmp/time"
	echo "loupe: $(tail -n1 "$tmp/loupe.json")"
	for mode in $GENSIM_MODES; do
		/usr/bin/time -f "%U %S" -o "$tmp/time" $PY bench/word2vec_gensim.py train "$tmp/corpus.txt" "$tmp/gensim-$mode.bin" "$mode" "$THREADS" "$EPOCHS" >> "$tmp/gensim-$mode.json" 2>/dev/null
		addcpu "$tmp/gensim-$mode.json" "$tmp/time"
		echo "gensim $mode: $(tail -n1 "$tmp/gensim-$mode.json")"
	done
done

read -r lw ls lv lc lcw < <(best "$tmp/loupe.json")
printf '\n%-26s %10s %8s %8s %10s %22s %22s\n' "trainer" "words/s" "seconds" "CPU s" "words/CPUs" "analogy (loupe eval)" "analogy (gensim eval)"
printf '%-26s %10.0f %8.1f %8.1f %10.0f %22s %22s\n' "loupe" "$lw" "$ls" "$lc" "$lcw" "$(acc_loupe "$tmp/loupe.bin")" "$(acc_gensim "$tmp/loupe.bin")"
for mode in $GENSIM_MODES; do
	read -r gw gs gv gc gcw < <(best "$tmp/gensim-$mode.json")
	label="gensim ($([ "$mode" = file ] && echo corpus_file || echo LineSentence))"
	printf '%-26s %10.0f %8.1f %8.1f %10.0f %22s %22s\n' "$label" "$gw" "$gs" "$gc" "$gcw" "$(acc_loupe "$tmp/gensim-$mode.bin")" "$(acc_gensim "$tmp/gensim-$mode.bin")"
	echo "$lw $gw $lcw $gcw" | awk -v l="$label" '{printf "speed ratio loupe / %s: %.2fx wall, %.2fx per CPU second\n", l, $1/$2, $3/$4}'
done
echo "vocab: loupe $lv words"
echo "(analogy columns: accuracy % correct/seen on questions-words.txt, top 30000 words; load at end $(cut -d' ' -f1-3 /proc/loadavg))"
