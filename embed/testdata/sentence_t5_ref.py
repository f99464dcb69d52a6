#!/usr/bin/python3
"""PyTorch reference for loupe's sentence-T5 embeddings (package embed).

Writes embed/testdata/sentence-t5/, a tiny random sentence-transformers
directory laid out as sentence-transformers/sentence-t5-base is:

    modules.json                 Transformer → Pooling → Dense → Normalize
    0_Transformer/               a T5EncoderModel checkpoint: config.json
                                 (architectures ["T5EncoderModel"]), F16
                                 model.safetensors holding shared.weight and
                                 encoder.* only, sentence_bert_config.json
                                 (max_seq_length 24), tokenizer_config.json
    1_Pooling/config.json        mean pooling
    2_Dense/                     config.json (768→768 in the real model,
                                 64→64 here; bias false; activation
                                 torch.nn.modules.linear.Identity) and
                                 pytorch_model.bin (torch.save, linear.weight)
    3_Normalize/
    golden.json                  texts, their token ids and embeddings

and embed/testdata/sentence-t5-dense-tanh/, a second Dense module (bias true,
the default activation torch.nn.modules.activation.Tanh, BF16
model.safetensors) with golden.json: the same texts embedded with it in
place of 2_Dense.

The tokenizer is tokenizer/testdata/spm/t5.model (T5's id layout: <pad> 0,
</s> 1, <unk> 2); it is not copied here (size): the Go test copies it in as
0_Transformer/spiece.model. Texts are tokenized as T5Tokenizer does (pieces,
truncated to max_seq_length-1, then </s>).

The network is model/t5/testdata/reference.py's T5.encode (transformers'
modeling_t5.py T5Stack in eval mode), run on the padded batch with its
attention mask, as sentence-transformers' Transformer module runs
T5EncoderModel; then Pooling (mean over the mask, sum / max(count, 1e-9)),
Dense (activation(linear(x))) and Normalize (F.normalize, eps 1e-12), as
sentence-transformers computes them. Weights are t5.Random's fill
(seed 11), stored as F16 and read back before computing.

Regenerate from the repository root:

    /usr/bin/python3 embed/testdata/sentence_t5_ref.py
"""

import json
import os
import shutil
import sys

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "model", "t5", "testdata"))
import reference as t5ref  # noqa: E402

OUT = os.path.join(ROOT, "embed", "testdata", "sentence-t5")
TANH = os.path.join(ROOT, "embed", "testdata", "sentence-t5-dense-tanh")
SPM = os.path.join(ROOT, "tokenizer", "testdata", "spm", "t5.model")
MAX_SEQ = 24

TEXTS = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void.",
    "Jesus wept.",
    "Hello world",
    "",
    "  spaces   around  ",
    "The LORD is my shepherd; I shall not want.",
    "naïve café — “quotes” and numbers 1234",
    "For God so loved the world, that he gave his only begotten Son, that whosoever believeth in him "
    "should not perish, but have everlasting life.",
    "a",
]


def config():
    return t5ref.t5_config(architectures=["T5EncoderModel"], d_model=64, d_kv=16, d_ff=128, num_layers=2,
                           num_decoder_layers=2, num_heads=4, relative_attention_num_buckets=32,
                           relative_attention_max_distance=128, feed_forward_proj="relu", vocab_size=1500,
                           use_cache=False)


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def f16(t):
    return torch.from_numpy(t.numpy().astype(np.float16).astype(np.float32))


def bf16(t):
    return t.to(torch.bfloat16).to(torch.float32)


def main():
    cfg = config()
    names = [(n, s) for n, s in t5ref.param_shapes(cfg) if not n.startswith("decoder.")]
    w = {n: f16(t5ref.tensor_values(n, s, 11, cfg["d_kv"])) for n, s in names}
    model = t5ref.T5(cfg, w)

    C = cfg["d_model"]
    g = torch.Generator().manual_seed(5)
    dense_w = bf16(torch.empty(C, C).uniform_(-0.25, 0.25, generator=g))  # bf16-exact: stored as F32 and BF16
    tanh_w = bf16(torch.empty(C, C).uniform_(-0.3, 0.3, generator=g))
    tanh_b = bf16(torch.empty(C).uniform_(-0.5, 0.5, generator=g))

    shutil.rmtree(OUT, ignore_errors=True)
    shutil.rmtree(TANH, ignore_errors=True)
    for d in ("0_Transformer", "1_Pooling", "2_Dense", "3_Normalize"):
        os.makedirs(os.path.join(OUT, d))
    os.makedirs(TANH)
    write_json(os.path.join(OUT, "modules.json"), [
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    tdir = os.path.join(OUT, "0_Transformer")
    write_json(os.path.join(tdir, "config.json"), cfg)
    t5ref.write_safetensors(os.path.join(tdir, "model.safetensors"), [(n, w[n]) for n, _ in names], dtype="F16")
    write_json(os.path.join(tdir, "sentence_bert_config.json"), {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    write_json(os.path.join(tdir, "tokenizer_config.json"), {"model_max_length": 512, "eos_token": "</s>",
                                                             "unk_token": "<unk>", "pad_token": "<pad>", "extra_ids": 0})
    write_json(os.path.join(OUT, "1_Pooling", "config.json"), {
        "word_embedding_dimension": C, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    write_json(os.path.join(OUT, "2_Dense", "config.json"), {
        "in_features": C, "out_features": C, "bias": False, "activation_function": "torch.nn.modules.linear.Identity"})
    torch.save({"linear.weight": dense_w.clone()}, os.path.join(OUT, "2_Dense", "pytorch_model.bin"))
    write_json(os.path.join(TANH, "config.json"), {
        "in_features": C, "out_features": C, "bias": True, "activation_function": "torch.nn.modules.activation.Tanh"})
    t5ref.write_safetensors(os.path.join(TANH, "model.safetensors"),
                            [("linear.weight", tanh_w), ("linear.bias", tanh_b)], dtype="BF16")

    sp = spm.SentencePieceProcessor(model_file=SPM)
    assert sp.pad_id() == 0 and sp.eos_id() == 1 and sp.unk_id() == 2
    ids = [sp.encode(t)[:MAX_SEQ - 1] + [1] for t in TEXTS]
    T = max(len(x) for x in ids)
    batch = torch.tensor([x + [0] * (T - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in ids])
    with torch.no_grad():
        tokens = model.encode(batch, mask)
        m = mask.unsqueeze(-1).float()
        pooled = (tokens * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        emb = F.normalize(F.linear(pooled, dense_w), p=2, dim=1)
        emb_tanh = F.normalize(torch.tanh(F.linear(pooled, tanh_w, tanh_b)), p=2, dim=1)
    write_json(os.path.join(OUT, "golden.json"), {"texts": TEXTS, "ids": ids, "embeddings": emb.tolist()})
    write_json(os.path.join(TANH, "golden.json"), {"texts": TEXTS, "embeddings": emb_tanh.tolist()})
    print("wrote", OUT, TANH, "max tokens", T)


if __name__ == "__main__":
    main()
