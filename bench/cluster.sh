#!/usr/bin/env bash
# Distributed batch embedding on one machine (issue 17): 2 `loupe worker`
# processes on loopback, fed by `loupe jobs submit embed` through a
# JetStream-enabled nats-server (Debian's package), against one
# `loupe embed` process on the same input. Prints the throughput of each,
# the ratio, and checks that the two .npy files are identical.
#
#   bench/cluster.sh                    # KJV verses (28,684 texts) x 10, built-in word2vec model
#   COPIES=1 bench/cluster.sh           # the verses once (the run is then mostly start-up)
#   MODEL=DIR BATCH=256 bench/cluster.sh   # another model, texts per task
#   MODEL=minilm-random LIMIT=2000 BATCH=100 bench/cluster.sh
#                                       # all-MiniLM-L6-v2's shape with random weights
#                                       # (bench/cluster_model.py): MiniLM's compute per text, offline
#   LIMIT=N                             # only the first N texts of the input
#   REPS=3 bench/cluster.sh             # best of 3 alternating rounds (default 2)
#   WORKER_PROCS=1 bench/cluster.sh     # GOMAXPROCS of each worker (default 1: 2 workers on 2 cores)
#
# Timing: the single run is the wall time of `loupe embed --input IN
# --output X.npy` (start-up, reading, embedding, writing). The cluster run
# is the wall time from `loupe jobs submit` to the end of `loupe jobs wait`
# (reading and publishing the input, the workers' embedding, storing the
# chunks in the object store, assembling OUT.npy), with the workers already
# started and connected (they load the model on their first task, inside
# the timing). CPU seconds (user + system) are counted for every process
# of each side, nats-server included: on a shared machine they show the
# engine's overhead better than wall time. Workers run with GOMAXPROCS=$WORKER_PROCS; the single
# process uses every core (the word-embedding model embeds on one
# goroutine, BERT models on all cores).
#
# SEARCH=1 bench/cluster.sh runs the sharded-search benchmark instead:
# the KJV verses in a flat index split into $SHARDS shards (default 4), one
# `loupe serve --index SHARD --nats --threads $SEARCH_THREADS` process per
# shard (default 1 thread per search: 4 shards share 2 cores), and bench/shardload
# (one process: the gateway, embedding each question once) asking the
# held-out verses as questions:
#   latency  one question at a time, $LATENCY per target per round for
#            $ROUNDS rounds: each shard alone, then all shards
#            (scatter-gather); prints p50/p99 and what the scatter-gather
#            adds to the slowest shard's (target <= 2 ms at p50); then
#            the same for bm25 (whose scatter-gather takes two rounds);
#   load     $CLIENTS concurrent clients (default 50) for $DURATION
#            (default 10s; the issue's run is CLIENTS=200 DURATION=60s):
#            answered, errors (failed or partial answers), rate, latency,
#            and the peak RSS (VmHWM) of every process, sampled RSS during
#            the run to show it stays bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${COPIES:-10}
REPS=${REPS:-2}
BATCH=${BATCH:-2000}
MODEL=${MODEL:-loupe/kjv-word2vec}
WORKER_PROCS=${WORKER_PROCS:-1}
command -v nats-server >/dev/null || { echo "bench/cluster.sh: needs nats-server (apt-get install nats-server)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/loupe" ./cmd/loupe
loupe="$work/loupe"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
if [ "${SEARCH:-0}" = 1 ]; then
	SHARDS=${SHARDS:-4} CLIENTS=${CLIENTS:-50} DURATION=${DURATION:-10s} LATENCY=${LATENCY:-500} ROUNDS=${ROUNDS:-3}
	echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg); $(nats-server --version)"
	go build -o "$work/shardload" ./bench/shardload
	zcat defaults/kjv/verses.jsonl.gz | head -n "${LIMIT:-1000000000}" > "$work/docs.jsonl"
	zcat defaults/kjv/heldout-verses.jsonl.gz | /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in sys.stdin]' > "$work/questions.txt"
	"$loupe" index build --input "$work/docs.jsonl" --kind flat --out "$work/single.idx"
	"$loupe" shard split --index "$work/single.idx" --shards "$SHARDS" --out "$work/shards/kjv"
	nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/nats.log" 2>&1 &
	pids+=($!)
	sleep 0.5
	for i in $(seq 0 $((SHARDS - 1))); do
		"$loupe" serve --index "$work/shards/kjv-$i" --nats "$url" --threads "${SEARCH_THREADS:-1}" >"$work/serve$i.log" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 0 $((SHARDS - 1))); do for _ in $(seq 200); do grep -q "serving shard" "$work/serve$i.log" && break; sleep 0.1; done; done
	echo "collection: $(wc -l < "$work/docs.jsonl") verses in $SHARDS shards (flat, cosine, loupe/kjv-word2vec); questions: $(wc -l < "$work/questions.txt") held-out verses"
	rss() { for p in "${pids[@]}"; do printf '%s %s  ' "$(tr '\0' ' ' < "/proc/$p/cmdline" | awk '{print ($2 == "serve") ? $2 " " $4 : $1}' | sed 's|.*/||')" "$(awk '/'"$1"'/ {print $2 $3}' "/proc/$p/status")"; done; echo; }
	echo "--- latency: one question at a time, each shard alone vs all $SHARDS (scatter-gather)"
	"$work/shardload" -nats "$url" -questions "$work/questions.txt" -latency "$LATENCY" -rounds "$ROUNDS" | tee "$work/latency.json"
	echo "--- latency, bm25 (two rounds: the shards' statistics, then the search)"
	"$work/shardload" -nats "$url" -questions "$work/questions.txt" -latency "$LATENCY" -rounds "$ROUNDS" -mode bm25 | tee "$work/latency-bm25.json"
	echo "peak RSS after the latency run: $(rss VmHWM)"
	echo "--- load: $CLIENTS clients for $DURATION"
	"$work/shardload" -nats "$url" -questions "$work/questions.txt" -latency 0 -clients "$CLIENTS" -duration "$DURATION" > "$work/load.json" &
	lp=$!
	while kill -0 "$lp" 2>/dev/null; do sleep 2; kill -0 "$lp" 2>/dev/null && echo "  RSS: $(rss VmRSS)"; done
	wait "$lp"
	cat "$work/load.json"
	echo "peak RSS after the load run: $(rss VmHWM)"
	exit 0
fi
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg); $(nats-server --version)"

if [ "$MODEL" = minilm-random ]; then
	/usr/bin/python3 bench/cluster_model.py "$work/minilm-random"
	MODEL="$work/minilm-random"
fi
in="$work/in.jsonl"
{ for _ in $(seq "$COPIES"); do zcat defaults/kjv/verses.jsonl.gz; done || :; } 2>/dev/null | head -n "${LIMIT:-1000000000}" > "$in"
n=$(wc -l < "$in")
echo "input: $n texts (defaults/kjv/verses.jsonl.gz x $COPIES${LIMIT:+, first $LIMIT}), model $MODEL, $BATCH texts per task"

nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$loupe" jobs status --nats "$url" none >/dev/null 2>&1 && break; grep -q "no job" <("$loupe" jobs status --nats "$url" none 2>&1) && break; sleep 0.1; done
for i in 1 2; do
	GOMAXPROCS=$WORKER_PROCS "$loupe" worker --nats "$url" --name "w$i" >"$work/worker$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2; do for _ in $(seq 100); do grep -q "waiting for tasks" "$work/worker$i.log" && break; sleep 0.1; done; done

now() { date +%s.%N; }
# cpu PID...: user+system CPU seconds the processes have used so far.
tick=$(getconf CLK_TCK)
cpu() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done; echo "$t / $tick" | bc -l; }
# timed FILE CMD...: runs CMD, adding its user+system CPU seconds to FILE.
timed() { local f=$1; shift; /usr/bin/time -f '%U + %S' -a -o "$f" "$@"; }
best_single=0 best_cluster=0 ratios=()
for r in $(seq "$REPS"); do
	rm -f "$work/cpu.single" "$work/cpu.cluster"
	t0=$(now)
	timed "$work/cpu.single" "$loupe" embed --model "$MODEL" --input "$in" --output "$work/single.npy" >/dev/null
	t1=$(now)
	c0=$(cpu "${pids[@]}")
	id=$(timed "$work/cpu.cluster" "$loupe" jobs submit embed --nats "$url" --model "$MODEL" --input "$in" --output "$work/cluster.npy" --batch "$BATCH" --format json |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	timed "$work/cpu.cluster" "$loupe" jobs wait --nats "$url" --timeout 10m "$id" >/dev/null
	t2=$(now)
	c1=$(cpu "${pids[@]}")
	cmp -s "$work/single.npy" "$work/cluster.npy" || { echo "round $r: OUTPUTS DIFFER" >&2; exit 1; }
	cs=$(paste -sd+ "$work/cpu.single" | bc -l)
	cc=$(echo "$(paste -sd+ "$work/cpu.cluster") + $c1 - $c0" | bc -l)
	s=$(echo "$n / ($t1 - $t0)" | bc -l); c=$(echo "$n / ($t2 - $t1)" | bc -l)
	printf 'round %d: loupe embed %.2f s (%.0f texts/s, %.2f CPU s); 2 workers %.2f s (%.0f texts/s, %.2f CPU s with submit, wait, workers, nats-server); outputs identical\n' \
		"$r" "$(echo "$t1 - $t0" | bc -l)" "$s" "$cs" "$(echo "$t2 - $t1" | bc -l)" "$c" "$cc"
	ratios+=("$(echo "$c / $s" | bc -l)")
	best_single=$(echo "if ($s > $best_single) $s else $best_single" | bc -l)
	best_cluster=$(echo "if ($c > $best_cluster) $c else $best_cluster" | bc -l)
done
printf 'best: loupe embed %.0f texts/s, 2 workers %.0f texts/s, ratio %.2fx (target >= 0.9x)\n' "$best_single" "$best_cluster" "$(echo "$best_cluster / $best_single" | bc -l)"
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
printf 'per-round ratios: %s; median %.2fx\n' "$(printf '%.2f ' "${ratios[@]}")" "$median"
echo "tasks per worker: $(for i in 1 2; do printf 'w%d %d  ' "$i" "$(grep -c ': done' "$work/worker$i.log" || true)"; done)"
