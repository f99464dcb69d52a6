#!/usr/bin/python3
"""Writes t5.tokenizer.json: t5.model as a Hugging Face tokenizer.json.

Needs python3-sentencepiece and python3-protobuf (Debian). The layout is
that of t5-small's tokenizer.json on the Hugging Face hub, which
transformers' T5Converter (convert_slow_tokenizer.py) made from spiece.model:

  model          {"type": "Unigram", "unk_id": ..., "vocab": [[piece, score], ...]}
                 (the .model's pieces in order, then <extra_id_N> with score 0,
                 <extra_id_0> last, as T5Tokenizer numbers them)
  normalizer     {"type": "Precompiled", "precompiled_charsmap": base64 of the
                 .model's normalizer_spec.precompiled_charsmap}
  pre_tokenizer  Sequence of WhitespaceSplit and Metaspace("▁", add_prefix_space)
  post_processor TemplateProcessing "$A </s>" / "$A </s> $B </s>"
  decoder        Metaspace("▁", add_prefix_space)
  added_tokens   <pad>, </s>, <unk> and the <extra_id_N>, all special

The Go tests also derive from it the layout of newer transformers
converters (normalizer Sequence[Precompiled, Replace(" {2,}", " ")],
pre_tokenizer a bare Metaspace).
"""
import base64
import json
import os

from sentencepiece import sentencepiece_model_pb2 as pb

HERE = os.path.dirname(os.path.abspath(__file__))
EXTRA_IDS = 10


def main():
    m = pb.ModelProto()
    with open(os.path.join(HERE, "t5.model"), "rb") as f:
        m.ParseFromString(f.read())
    vocab = [[p.piece, p.score] for p in m.pieces]
    vocab += [["<extra_id_%d>" % i, 0.0] for i in range(EXTRA_IDS - 1, -1, -1)]
    added = []
    for i, p in enumerate(m.pieces):
        if p.type in (pb.ModelProto.SentencePiece.CONTROL, pb.ModelProto.SentencePiece.UNKNOWN):
            added.append(i)
    added += range(len(m.pieces), len(vocab))
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    eos = [i for i, p in enumerate(m.pieces) if p.piece == "</s>"][0]
    tj = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": vocab[i][0], "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": True} for i in added],
        "normalizer": {"type": "Precompiled", "precompiled_charsmap":
                       base64.b64encode(m.normalizer_spec.precompiled_charsmap).decode()},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [eos], "tokens": ["</s>"]}},
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": m.trainer_spec.unk_id, "vocab": vocab},
    }
    with open(os.path.join(HERE, "t5.tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
