#!/bin/sh
# Runs loupe's SentencePiece encoding benchmark and python3-sentencepiece's
# on the same texts, one after the other, on one core. Run from the
# repository root: sh tokenizer/testdata/spm/bench.sh
set -e
go test -run XXX -bench SentencePieceEncode -benchtime 20x -count 5 -cpu 1 ./tokenizer
/usr/bin/python3 tokenizer/testdata/spm/bench.py
