#!/usr/bin/python3
"""A larger differential check, not run by default: writes OUT/MODEL.jsonl
with python3-sentencepiece's ids and decoded text for every KJV verse
(31,102) and 15,000 seeded random strings (ASCII, whitespace of many kinds,
▁, and code points from all planes), for six of the test models. Then

    LOUPE_SPM_DIFF=OUT go test -run TestDifferential ./tokenizer/sentencepiece

compares loupe with them. Run from the repository root:

    /usr/bin/python3 tokenizer/testdata/spm/differential.py OUT
"""
import json, os, random, subprocess, sys
import sentencepiece as spm
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rnd = random.Random(7)
out = subprocess.run(["bible","-f","Gen1:1-Rev22:21"],capture_output=True,text=True).stdout
texts = [l.partition(" ")[2] for l in out.splitlines() if l.strip()]
for i in range(15000):
    s=[]
    for _ in range(rnd.randint(0,30)):
        k=rnd.random()
        if k<0.3: s.append(chr(rnd.randint(0x20,0x7e)))
        elif k<0.4: s.append(rnd.choice([" ","  ","\t","\n","\u3000","\u00a0","\u2581","\u200b","\u0085","\r"]))
        else:
            c=rnd.randint(0x80,0x10ffff)
            if 0xd800<=c<=0xdfff: continue
            s.append(chr(c))
    texts.append("".join(s))
for m in ["t5","bpe","unigram-bytes","bpe-bytes-identity","bpe-userdef","unigram-nfkc-ws"]:
    sp=spm.SentencePieceProcessor(model_file="tokenizer/testdata/spm/%s.model"%m)
    with open(os.path.join(OUT, m + ".jsonl"),"w") as f:
        for t in texts:
            ids=sp.encode(t)
            f.write(json.dumps({"t":t,"ids":ids,"d":sp.decode(ids)})+"\n")
print(len(texts))
