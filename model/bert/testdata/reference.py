#!/usr/bin/python3
"""Reference BERT forward pass and golden files for model/bert and embed.

Plain PyTorch (Debian python3-torch); Hugging Face transformers is not needed.
The model below computes what transformers' BertModel computes in eval mode
(eager attention): embeddings = word + absolute position + token type, then
LayerNorm; post-LayerNorm encoder layers; padding masked by adding
finfo(float32).min to the attention scores; pooler = tanh(dense(h[:, 0])).
Pooling and Normalize follow sentence-transformers.

Regenerate (from the repository root):

    /usr/bin/python3 model/bert/testdata/reference.py

It writes:
  model/bert/testdata/tiny/      HF layout, "bert." prefix, pooler, gamma/beta
                                 LayerNorm names, one F16 tensor
  model/bert/testdata/minilm/    all-MiniLM-L6-v2 shape (6x384, 12 heads, 1536,
                                 vocab 30522, 512 positions); the weights are NOT
                                 stored: both sides generate them with splitmix64
                                 (see prng_tensor); only config + goldens are kept
  embed/testdata/st/             a small sentence-transformers repo (no prefix,
                                 no pooler) + golden embeddings per pooling mode
Golden arrays are raw little-endian float32 (*.f32); golden.json has the inputs
and shapes.
"""
import json
import math
import os
import struct

import numpy as np
import torch

torch.set_grad_enabled(False)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

# ---------------------------------------------------------------- weights

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def prng_tensor(name, shape, center, scale):
    """Deterministic weights shared with the Go test (bert_test.go prngTensor):
    element k is splitmix64(fnv1a64(name) + (k+1)*GOLDEN) mapped to
    center + scale*(2u-1), u = top 24 bits / 2^24, computed in float64 and
    rounded to float32."""
    n = int(np.prod(shape))
    seed = np.uint64(fnv1a64(name))
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = seed + k * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    v = center + scale * (2.0 * u - 1.0)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def tensor_specs(cfg, prefix, pooler, old_ln=False):
    """(name, shape, center, scale) for every tensor of a BertModel, HF names."""
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    w = 0.05 * math.sqrt(3.0)
    g = "gamma" if old_ln else "weight"
    b = "beta" if old_ln else "bias"
    specs = [
        (prefix + "embeddings.word_embeddings.weight", [cfg["vocab_size"], H], 0.0, 0.2),
        (prefix + "embeddings.position_embeddings.weight", [cfg["max_position_embeddings"], H], 0.0, 0.2),
        (prefix + "embeddings.token_type_embeddings.weight", [cfg["type_vocab_size"], H], 0.0, 0.2),
        (prefix + "embeddings.LayerNorm." + g, [H], 1.0, 0.1),
        (prefix + "embeddings.LayerNorm." + b, [H], 0.0, 0.1),
    ]
    for l in range(cfg["num_hidden_layers"]):
        p = prefix + "encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            specs += [(p + "attention.self.%s.weight" % m, [H, H], 0.0, w),
                      (p + "attention.self.%s.bias" % m, [H], 0.0, 0.02)]
        specs += [
            (p + "attention.output.dense.weight", [H, H], 0.0, w),
            (p + "attention.output.dense.bias", [H], 0.0, 0.02),
            (p + "attention.output.LayerNorm.weight", [H], 1.0, 0.1),
            (p + "attention.output.LayerNorm.bias", [H], 0.0, 0.1),
            (p + "intermediate.dense.weight", [I, H], 0.0, w),
            (p + "intermediate.dense.bias", [I], 0.0, 0.02),
            (p + "output.dense.weight", [H, I], 0.0, w / 2),
            (p + "output.dense.bias", [H], 0.0, 0.02),
            (p + "output.LayerNorm.weight", [H], 1.0, 0.1),
            (p + "output.LayerNorm.bias", [H], 0.0, 0.1),
        ]
    if pooler:
        specs += [(prefix + "pooler.dense.weight", [H, H], 0.0, w),
                  (prefix + "pooler.dense.bias", [H], 0.0, 0.02)]
    return specs


def make_weights(cfg, prefix, pooler, old_ln=False):
    return {n: prng_tensor(n, s, c, sc) for n, s, c, sc in tensor_specs(cfg, prefix, pooler, old_ln)}


def write_safetensors(path, tensors, f16=()):
    """Hand-written safetensors: 8-byte LE header length, JSON header, data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if name in f16:
            data, dt = t.numpy().astype("<f2").tobytes(), "F16"
        else:
            data, dt = t.numpy().astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- model


def gelu_act(name):
    if name == "gelu":
        return lambda x: torch.nn.functional.gelu(x)  # exact erf form
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return torch.relu
    raise ValueError(name)


def bert_forward(cfg, w, prefix, ids, types, mask):
    """Returns (last_hidden_state [B,T,H], pooler_output [B,H] or None)."""
    def W(n):
        if prefix + n in w:
            return w[prefix + n]
        return w[prefix + n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")]

    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hs = H // nh
    eps = cfg.get("layer_norm_eps", 1e-12)
    act = gelu_act(cfg.get("hidden_act", "gelu"))
    B, T = ids.shape
    pos = torch.arange(T).unsqueeze(0).expand(B, T)
    x = W("embeddings.word_embeddings.weight")[ids] + W("embeddings.token_type_embeddings.weight")[types] \
        + W("embeddings.position_embeddings.weight")[pos]
    x = torch.nn.functional.layer_norm(x, (H,), W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), eps)
    ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    lin = torch.nn.functional.linear
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l

        def heads(t):
            return t.view(B, T, nh, hs).permute(0, 2, 1, 3)
        q = heads(lin(x, W(p + "attention.self.query.weight"), W(p + "attention.self.query.bias")))
        k = heads(lin(x, W(p + "attention.self.key.weight"), W(p + "attention.self.key.bias")))
        v = heads(lin(x, W(p + "attention.self.value.weight"), W(p + "attention.self.value.bias")))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hs) + ext
        a = torch.softmax(s, dim=-1)
        ctx = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(B, T, H)
        o = lin(ctx, W(p + "attention.output.dense.weight"), W(p + "attention.output.dense.bias"))
        x = torch.nn.functional.layer_norm(o + x, (H,), W(p + "attention.output.LayerNorm.weight"),
                                           W(p + "attention.output.LayerNorm.bias"), eps)
        i = act(lin(x, W(p + "intermediate.dense.weight"), W(p + "intermediate.dense.bias")))
        o = lin(i, W(p + "output.dense.weight"), W(p + "output.dense.bias"))
        x = torch.nn.functional.layer_norm(o + x, (H,), W(p + "output.LayerNorm.weight"),
                                           W(p + "output.LayerNorm.bias"), eps)
    pooled = None
    if prefix + "pooler.dense.weight" in w:
        pooled = torch.tanh(lin(x[:, 0], W("pooler.dense.weight"), W("pooler.dense.bias")))
    return x, pooled


def pool(h, mask, mode):
    """sentence-transformers Pooling for one mode."""
    m = mask.unsqueeze(-1).expand(h.size()).float()
    if mode == "cls":
        return h[:, 0]
    if mode == "max":
        t = h.clone()
        t[m == 0] = -1e9
        return torch.max(t, 1)[0]
    s = torch.sum(h * m, 1)
    n = torch.clamp(m.sum(1), min=1e-9)
    if mode == "mean":
        return s / n
    if mode == "mean_sqrt_len":
        return s / torch.sqrt(n)
    raise ValueError(mode)


def normalize(x):
    return torch.nn.functional.normalize(x, p=2, dim=1)


def pad_batch(seqs, type_seqs=None):
    T = max(len(s) for s in seqs)
    B = len(seqs)
    ids = torch.zeros(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, :len(s)] = torch.tensor(s)
        mask[b, :len(s)] = 1
        if type_seqs is not None:
            types[b, :len(s)] = torch.tensor(type_seqs[b])
    return ids, types, mask


def save_f32(path, t):
    with open(path, "wb") as f:
        f.write(t.contiguous().numpy().astype("<f4").tobytes())


def write_json(path, v):
    with open(path, "w") as f:
        json.dump(v, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------- cases


def model_case(dirname, cfg, prefix, pooler, old_ln, store, f16, seqs, type_seqs, masks=None):
    os.makedirs(dirname, exist_ok=True)
    w = make_weights(cfg, prefix, pooler, old_ln)
    if store:
        for n in f16:  # the reference sees the float16-rounded values
            w[n] = w[n].half().float()
        write_safetensors(os.path.join(dirname, "model.safetensors"), w, f16)
    write_json(os.path.join(dirname, "config.json"), cfg)
    ids, types, mask = pad_batch(seqs, type_seqs)
    hidden, pooled = bert_forward(cfg, w, prefix, ids, types, mask)
    save_f32(os.path.join(dirname, "hidden.f32"), hidden)
    gold = {"prefix": prefix, "ids": seqs, "type_ids": type_seqs,
            "hidden_shape": list(hidden.shape)}
    if pooled is not None:
        save_f32(os.path.join(dirname, "pooled.f32"), pooled)
        gold["pooled_shape"] = list(pooled.shape)
    if masks is not None:  # explicit attention masks with holes and left padding
        for b, mk in enumerate(masks):
            mask[b, :len(mk)] = torch.tensor(mk)
        masked, _ = bert_forward(cfg, w, prefix, ids, types, mask)
        save_f32(os.path.join(dirname, "masked.f32"), masked)
        gold["masks"] = masks
    write_json(os.path.join(dirname, "golden.json"), gold)
    print("%s: hidden %s pooled %s" % (dirname, list(hidden.shape), None if pooled is None else list(pooled.shape)))


def bert_config(V, H, L, nh, I, P, act="gelu"):
    return {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": V, "hidden_size": H,
            "num_hidden_layers": L, "num_attention_heads": nh, "intermediate_size": I,
            "max_position_embeddings": P, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "hidden_act": act, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02, "pad_token_id": 0, "position_embedding_type": "absolute"}


ST_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "'", "-",
            "the", "a", "an", "cat", "dog", "sat", "on", "mat", "is", "was", "quick", "brown",
            "fox", "jump", "lazy", "over", "and", "of", "to", "in", "it", "search", "sentence",
            "embed", "vector", "model", "how", "do", "i", "what", "go", "run", "fast", "cpu",
            "language", "word", "piece", "token", "hello", "world", "bert", "mini", "lm",
            "##s", "##ed", "##ing", "##ding", "##er", "##ly", "##d", "##e", "##y", "x", "y", "z"]


def wordpiece(text):
    """Tiny BERT tokenizer for ASCII text (lower-case, split on whitespace and
    punctuation, greedy longest-match word pieces) over ST_VOCAB."""
    vocab = {t: i for i, t in enumerate(ST_VOCAB)}
    words, cur = [], ""
    for ch in text.lower():
        if ch.isspace():
            if cur:
                words.append(cur)
            cur = ""
        elif not ch.isalnum():
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    out = [vocab["[CLS]"]]
    for wd in words:
        pieces, start, ok = [], 0, True
        while start < len(wd):
            end = len(wd)
            found = None
            while end > start:
                sub = wd[start:end] if start == 0 else "##" + wd[start:end]
                if sub in vocab:
                    found = vocab[sub]
                    break
                end -= 1
            if found is None:
                ok = False
                break
            pieces.append(found)
            start = end
        out += pieces if ok else [vocab["[UNK]"]]
    out.append(vocab["[SEP]"])
    return out


ST_TEXTS = [
    "The quick brown fox jumped over the lazy dog.",
    "A cat sat on the mat",
    "How do I run a BERT model fast on a CPU?",
    "hello world",
    "Embedding sentences: word pieces and tokens, vectors and search!",
    "xyzzy",
    "",
]


def st_case():
    d = os.path.join(ROOT, "embed", "testdata", "st")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    cfg = bert_config(len(ST_VOCAB), 32, 2, 4, 64, 512)
    w = make_weights(cfg, "", False)
    write_safetensors(os.path.join(d, "model.safetensors"), w)
    write_json(os.path.join(d, "config.json"), cfg)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(ST_VOCAB) + "\n")
    write_json(os.path.join(d, "tokenizer_config.json"), {"do_lower_case": True, "model_max_length": 512,
                                                          "tokenizer_class": "BertTokenizer"})
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": 256, "do_lower_case": False})
    gold = {"texts": ST_TEXTS, "ids": [], "dim": 32, "modes": {}}
    seqs = [wordpiece(t) for t in ST_TEXTS]
    gold["ids"] = seqs
    ids, types, mask = pad_batch(seqs)
    hidden, _ = bert_forward(cfg, w, "", ids, types, mask)
    for mode in ("mean", "cls", "max", "mean_sqrt_len"):
        gold["modes"][mode] = pool(hidden, mask, mode).tolist()
    gold["normalized_mean"] = normalize(pool(hidden, mask, "mean")).tolist()
    # Truncation to max_seq_length 6 (specials included).
    tr = [s[:5] + [s[-1]] if len(s) > 6 else s for s in seqs]
    ids, types, mask = pad_batch(tr)
    hidden, _ = bert_forward(cfg, w, "", ids, types, mask)
    gold["truncated6_normalized_mean"] = normalize(pool(hidden, mask, "mean")).tolist()
    write_json(os.path.join(d, "golden.json"), gold)
    print("%s: %d texts" % (d, len(ST_TEXTS)))


def main():
    seqs = [[2, 7, 9, 11, 13, 3], [2, 40, 3], [2, 5, 6, 3, 17, 18, 19, 20, 3], [2, 49, 3, 1]]
    types = [[0] * 6, [0] * 3, [0] * 4 + [1] * 5, [0, 0, 0, 1]]
    model_case(os.path.join(HERE, "tiny"), bert_config(50, 16, 2, 4, 32, 40), "bert.", True, True, True,
               ["bert.embeddings.position_embeddings.weight"], seqs, types,
               [[1, 0, 1, 1, 0, 1], [1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0]])
    mseqs = [[101, 2023, 2003, 1037, 6251, 1012, 102],
             [101] + [1000 + 37 * i for i in range(18)] + [102],
             [101, 7592, 102],
             [101, 2054, 2003, 102, 3899, 4937, 3231, 1012, 102]]
    mtypes = [[0] * 7, [0] * 20, [0] * 3, [0] * 4 + [1] * 5]
    model_case(os.path.join(HERE, "minilm"), bert_config(30522, 384, 6, 12, 1536, 512), "", True, False, False,
               [], mseqs, mtypes)
    st_case()


if __name__ == "__main__":
    main()
