#!/usr/bin/python3
"""sentence-T5-base-shaped check of loupe embed against plain PyTorch.

`write` builds DIR (default /tmp/t5bench/st5): a random sentence-T5 directory
of sentence-t5-base's geometry (T5EncoderModel: d_model 768, 12 layers, 12
heads of 64, d_ff 3072, relu, vocabulary 32128, F32, t5.Random's fill, seed
3; the test SentencePiece tokenizer tokenizer/testdata/spm/t5.model; mean
pooling; Dense 768→768 without bias; Normalize; max_seq_length 256) and
/tmp/t5bench/in.txt (the first 256 held-in KJV verses). `time` embeds them
with model/t5/testdata/reference.py's encoder (padded batches of 32 sorted
by length, attention mask; THREADS torch threads, default 2) and writes
/tmp/t5bench/torch.npy. From the repository root:

    /usr/bin/python3 bench/sentence_t5.py write
    go run ./cmd/loupe embed --model /tmp/t5bench/st5 --input /tmp/t5bench/in.txt \
        --output /tmp/t5bench/go.npy --format json
    THREADS=2 /usr/bin/python3 bench/sentence_t5.py time
    /usr/bin/python3 -c "import numpy as n; a=n.load('/tmp/t5bench/go.npy'); \
        b=n.load('/tmp/t5bench/torch.npy'); print(abs(a-b).max())"

The PyTorch side is the reference implementation in plain torch ops, not
transformers' T5EncoderModel (not installable here): its speed is not
transformers'.
"""
import sys, os, json, time, gzip
sys.path.insert(0, "model/t5/testdata"); sys.path.insert(0, "embed/testdata")
import reference as t5ref, torch, sentencepiece as spm, numpy as np
import torch.nn.functional as F
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
D = "/tmp/t5bench/st5"
os.makedirs("/tmp/t5bench", exist_ok=True)
cfg = t5ref.t5_config(architectures=["T5EncoderModel"], d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
names = [(n, s) for n, s in t5ref.param_shapes(cfg) if not n.startswith("decoder.")]
w = {n: t5ref.tensor_values(n, s, 3, 64) for n, s in names}
if sys.argv[1] == "write":
    for d in ("0_Transformer", "1_Pooling", "2_Dense", "3_Normalize"):
        os.makedirs(os.path.join(D, d), exist_ok=True)
    json.dump([{"idx":0,"name":"0","path":"0_Transformer","type":"sentence_transformers.models.Transformer"},
               {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
               {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"},
               {"idx":3,"name":"3","path":"3_Normalize","type":"sentence_transformers.models.Normalize"}], open(D+"/modules.json","w"))
    json.dump(cfg, open(D+"/0_Transformer/config.json","w"))
    json.dump({"max_seq_length":256,"do_lower_case":False}, open(D+"/0_Transformer/sentence_bert_config.json","w"))
    t5ref.write_safetensors(D+"/0_Transformer/model.safetensors", [(n, w[n]) for n, _ in names])
    os.system("cp tokenizer/testdata/spm/t5.model %s/0_Transformer/spiece.model" % D)
    json.dump({"word_embedding_dimension":768,"pooling_mode_mean_tokens":True}, open(D+"/1_Pooling/config.json","w"))
    json.dump({"in_features":768,"out_features":768,"bias":False,"activation_function":"torch.nn.modules.linear.Identity"}, open(D+"/2_Dense/config.json","w"))
    dw = t5ref.tensor_values("dense", (768, 768), 3, 64)
    t5ref.write_safetensors(D+"/2_Dense/model.safetensors", [("linear.weight", dw)])
    texts = [json.loads(l)["text"] for l in gzip.open("defaults/kjv/verses.jsonl.gz", "rt")][:256]
    with open("/tmp/t5bench/in.txt", "w") as f:
        f.write("\n".join(texts) + "\n")
    sys.exit()
# torch timing
dw = t5ref.tensor_values("dense", (768, 768), 3, 64)
model = t5ref.T5(cfg, w)
sp = spm.SentencePieceProcessor(model_file="tokenizer/testdata/spm/t5.model")
texts = open("/tmp/t5bench/in.txt").read().split("\n")[:256]
ids = [sp.encode(t)[:255] + [1] for t in texts]
order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
out = {}
t0 = time.time()
with torch.no_grad():
    for lo in range(0, len(order), 32):
        b = [ids[i] for i in order[lo:lo+32]]
        T = max(map(len, b))
        x = torch.tensor([r + [0]*(T-len(r)) for r in b]); m = torch.tensor([[1]*len(r)+[0]*(T-len(r)) for r in b])
        h = model.encode(x, m); mm = m.unsqueeze(-1).float()
        e = F.normalize(F.linear((h*mm).sum(1)/mm.sum(1), dw), dim=1)
        for j, i in enumerate(order[lo:lo+32]): out[i] = e[j]
dt = time.time() - t0
print("torch threads %d: %.1f texts/s (%.2f s), tokens %d" % (torch.get_num_threads(), len(texts)/dt, dt, sum(map(len, ids))))
np.save("/tmp/t5bench/torch.npy", torch.stack([out[i] for i in range(len(texts))]).numpy())
