#!/usr/bin/python3
"""Reference kNN-LM probabilities for knnlm's golden test (exact_test.go).

    /usr/bin/python3 retrieval/knnlm/testdata/knnlm_ref.py > retrieval/knnlm/testdata/golden.json

Fixed pseudo-random inputs (numpy seed 13): for each of a few queries, k
neighbours' squared L2 distances (sorted) and values, and a row of LM
logits; for each temperature T and λ, the outputs computed as the kNN-LM
paper's code (urvashik/knnlm, KNN_Dstore.get_knn_log_prob and
combine_knn_and_vocab_probs) computes them, in float64 PyTorch:

    log p_kNN(y) = logsumexp_i( log_softmax(-d/T)_i + [v_i == y ? 0 : -inf] )
    log p(y)     = logsumexp( log p_LM(y) + log(1-λ), log p_kNN(y) + log λ )

over every token y of the vocabulary. Written: the inputs, p_kNN (as
probabilities: 0 where no neighbour has the token), each neighbour's
weight softmax(-d/T), and the interpolated probabilities and (for λ < 1)
log-probabilities.
"""
import json

import numpy as np
import torch


def main():
    rng = np.random.default_rng(13)
    V, k, nq = 40, 24, 5
    cases = []
    for q in range(nq):
        scale = [1.0, 20.0, 300.0, 0.01, 50.0][q]  # distance scales from tight to spread
        d = np.sort(rng.uniform(0, 1, k) * scale).astype(np.float32)
        vals = rng.integers(0, V // 3 if q % 2 else V, k)
        logits = (rng.standard_normal(V) * 3).astype(np.float32)
        cases.append({"distances": d.tolist(), "values": vals.tolist(), "logits": logits.tolist()})
    temps = [1.0, 5.0, 0.5]
    lambdas = [0.0, 0.25, 0.9, 1.0]
    out = []
    for c in cases:
        d = torch.tensor(c["distances"], dtype=torch.float32).double()
        vals = torch.tensor(c["values"])
        lm = torch.log_softmax(torch.tensor(c["logits"], dtype=torch.float32).double(), dim=-1)
        for T in temps:
            probs = torch.log_softmax(-d / T, dim=-1)
            ys = torch.arange(V).unsqueeze(1)  # [V, 1]
            mask = torch.where(vals.unsqueeze(0) == ys, 0.0, -float("inf")).double()  # [V, k]
            knn = torch.logsumexp(probs.unsqueeze(0) + mask, dim=-1)  # [V]
            for lam in lambdas:
                if lam == 0:
                    mix = lm.clone()
                elif lam == 1:
                    mix = knn.clone()
                else:
                    mix = torch.logsumexp(torch.stack([lm + np.log(1 - lam), knn + np.log(lam)]), dim=0)
                row = {
                    "case": cases.index(c),
                    "temperature": T,
                    "lambda": lam,
                    "weights": torch.exp(probs).tolist(),
                    "knn_probs": torch.exp(knn).tolist(),
                    "mix_probs": torch.exp(mix).tolist(),
                }
                if lam < 1:
                    row["mix_logprobs"] = mix.tolist()
                out.append(row)
    json.dump({"vocab": V, "cases": cases, "outputs": out}, __import__("sys").stdout)


if __name__ == "__main__":
    main()
