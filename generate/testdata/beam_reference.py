#!/usr/bin/python3
"""PyTorch reference for loupe's beam search (generate/beam.go).

This re-implements, in plain PyTorch and for one prompt, the beam search of
Hugging Face transformers' generate(num_beams=N, do_sample=False) as written
in transformers' main branch in 2025 (the vectorised GenerationMixin._beam_search
that replaced BeamSearchScorer; transformers itself is not needed):

  - each step takes log_softmax of the last logits of every running beam,
    runs the logits processors on those log-probs (repetition penalty, then
    no-repeat n-gram), and adds the beam's running score;
  - it keeps the top K = max(2, 1 + number of EOS ids) * N continuations
    over all beams (torch.topk), beam index = index // V, token = index % V;
  - a continuation "hits the stopping criteria" when its token is an EOS id
    or the sequence reaches max_length (prompt + max_new_tokens);
  - the N best continuations that did not hit run on (hits get -1e9 added);
  - hits among the first N of the K are scored sum / (generated length
    including the new token) ** length_penalty, -1e9 is added when the
    finished list is full with early_stopping=True or when the early-stop
    heuristic says no improvement is possible, and -1e9 for every other
    candidate; the finished list keeps the top N of old + new (torch.topk);
  - the heuristic: best running score / (cur_len - prompt_len) ** lp, or
    (max_length - prompt_len) ** lp for early_stopping="never" with lp > 0,
    must beat the worst finished score (any slot not finished counts as
    -1e9); once unsatisfied it stays so;
  - the loop ends when the heuristic is unsatisfied, or every finished slot
    is filled with early_stopping=True, or every one of the K candidates hit.

min_length and min_new_tokens (the later cases) follow transformers'
MinLengthLogitsProcessor and MinNewTokensLengthLogitsProcessor, which
_get_logits_processor puts right after the no-repeat n-gram ban: while the
sequence (prompt included) is shorter than min_length, or fewer than
min_new_tokens tokens follow the prompt, every EOS id's score is -inf. As in
transformers' _prepare_generated_length, a min_new_tokens that is set
replaces min_length with prompt length + min_new_tokens. Those cases also
run greedy decoding ("mode": "greedy"; transformers' _sample without
do_sample): the processors run on the raw last logits, the argmax is the
next token (the first on ties, as torch.argmax), and "logprobs" holds the
log_softmax of the raw logits at each chosen token.

Beam sampling (the "beam_sample" cases; transformers' generate(do_sample=True,
num_beams=N), the do_sample branch of the same _beam_search, as of
huggingface/transformers commit 000034a44ef887621d9b36001a5eb7c46e64cb3f):

  - after the processors above, the warpers run on the log-probs in
    transformers' order: temperature (divide), top-k, top-p; with num_beams
    > 1 they keep min_tokens_to_keep = len(eos) + 1 tokens (2 without EOS);
  - instead of torch.topk, K continuations are drawn without replacement by
    torch.multinomial(softmax(accumulated scores over beams x vocab), K), and
    stay in the order drawn (no sort): "the first N" of the finished-list
    mask are the first N drawn; their scores are the accumulated scores
    (torch.gather), and everything after that is beam search's;
  - torch's random draw is replaced by draw_without_replacement below, fed
    from a list of uniform numbers that the golden file stores ("uniforms",
    K per step), which loupe's drawCandidates (generate/beam.go) repeats:
    weights exp(score - max) in float64, then K successive inverse-CDF draws
    over the entries not yet drawn (running sums in index order), and, once
    no weight above 0 is left, the remaining entry with the highest score
    (lowest index on ties).

The model is model/gpt2/testdata/reference.py's GPT-2 on the tiny random
checkpoint (model/gpt2/testdata/tiny), run over the full sequences each step
(no cache) in float32.

Regenerate from the repository root:

    /usr/bin/python3 generate/testdata/beam_reference.py > generate/testdata/beam_golden.json
"""

import json
import os
import random
import sys

import numpy as np

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "model", "gpt2", "testdata"))
import reference  # noqa: E402

NEG = -1.0e9


def repetition_penalty(ids, scores, penalty):
    """transformers' RepetitionPenaltyLogitsProcessor on one row."""
    idx = torch.tensor(ids, dtype=torch.long)
    s = scores.gather(0, idx)
    s = torch.where(s < 0, s * penalty, s / penalty)
    return scores.scatter(0, idx, s)


def no_repeat_ngram(ids, scores, n):
    """transformers' NoRepeatNGramLogitsProcessor on one row."""
    cur = len(ids)
    if cur + 1 < n:
        return scores
    seen = {}
    for i in range(cur - n + 1):
        seen.setdefault(tuple(ids[i:i + n - 1]), []).append(ids[i + n - 1])
    banned = seen.get(tuple(ids[cur - n + 1:cur]), [])
    scores = scores.clone()
    for t in banned:
        scores[t] = float("-inf")
    return scores


def min_length_processors(ids, scores, prompt_len, eos, min_length, min_new_tokens):
    """transformers' MinLengthLogitsProcessor then
    MinNewTokensLengthLogitsProcessor on one row, with min_length already
    replaced as _prepare_generated_length does."""
    scores = scores.clone()
    if min_length > 0 and len(ids) < min_length:
        for t in eos:
            scores[t] = float("-inf")
    if min_new_tokens is not None and min_new_tokens > 0 and len(ids) - prompt_len < min_new_tokens:
        for t in eos:
            scores[t] = float("-inf")
    return scores


def top_k_warper(scores, top_k, min_keep):
    """transformers' TopKLogitsWarper on one row."""
    k = min(max(top_k, min_keep), scores.shape[-1])
    return scores.masked_fill(scores < torch.topk(scores, k)[0][-1], float("-inf"))


def top_p_warper(scores, top_p, min_keep):
    """transformers' TopPLogitsWarper on one row."""
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[-min_keep:] = False
    remove = remove.scatter(0, sorted_indices, remove)
    return scores.masked_fill(remove, float("-inf"))


def draw_without_replacement(acc, k, uniforms):
    """K draws from softmax(acc) without replacement, in draw order, each
    from the next number of uniforms (see the module docstring)."""
    a = acc.numpy().astype(np.float64)
    m = a.max()
    w = np.zeros_like(a) if m == -np.inf else np.exp(a - m)
    w[a == -np.inf] = 0.0
    picked = []
    for _ in range(k):
        u = uniforms()
        cum = np.cumsum(w)
        total = cum[-1]
        idx = -1
        if total > 0:
            t = u * total
            hit = np.nonzero((cum > t) & (w > 0))[0]
            idx = int(hit[0]) if len(hit) else int(np.nonzero(w > 0)[0][-1])
        else:
            for i in range(len(a)):
                if i not in picked and (idx < 0 or a[i] > a[idx]):
                    idx = i
        w[idx] = 0.0
        picked.append(idx)
    return torch.tensor(picked, dtype=torch.long)


def resolve_min_length(prompt_len, min_length, min_new_tokens):
    """transformers' _prepare_generated_length: min_new_tokens wins."""
    if min_new_tokens is not None:
        return min_new_tokens + prompt_len
    return min_length


def greedy(model, prompt, max_new_tokens, eos, rep_penalty=1.0, ngram=0, min_length=0, min_new_tokens=None,
           bad=None, forced=None):
    """transformers' _sample with do_sample=False, for one prompt. bad and
    forced (functions of ids and scores, or None) are the stages
    _get_logits_processor puts before the minimum length (bad_words_ids) and
    after it (forced_bos_token_id, forced_eos_token_id): see
    seq2seq/testdata/reference.py."""
    P = len(prompt)
    min_length = resolve_min_length(P, min_length, min_new_tokens)
    ids = list(prompt)
    out, lps = [], []
    while len(out) < max_new_tokens:
        logits, _ = model.forward(torch.tensor([ids], dtype=torch.long))
        logits = logits[0, -1, :]
        raw = F.log_softmax(logits, dim=-1)
        scores = logits
        if rep_penalty != 1.0:
            scores = repetition_penalty(ids, scores, rep_penalty)
        if ngram > 0:
            scores = no_repeat_ngram(ids, scores, ngram)
        if bad is not None:
            scores = bad(ids, scores)
        scores = min_length_processors(ids, scores, P, eos, min_length, min_new_tokens)
        if forced is not None:
            scores = forced(ids, scores)
        tok = int(torch.argmax(scores))
        out.append(tok)
        lps.append(float(raw[tok]))
        ids.append(tok)
        if tok in eos:
            break
    return out, lps


def beam_search(model, prompt, num_beams, max_new_tokens, eos, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1, rep_penalty=1.0, ngram=0,
                min_length=0, min_new_tokens=None, do_sample=False, temperature=1.0, top_k=0, top_p=1.0,
                uniforms=None, bad=None, forced=None):
    min_length = resolve_min_length(len(prompt), min_length, min_new_tokens)
    N = num_beams
    V = model.cfg["vocab_size"]
    P = len(prompt)
    max_length = P + max_new_tokens
    K = max(2, 1 + len(eos)) * N
    top_mask = torch.tensor([j < N for j in range(K)])

    running = [list(prompt) for _ in range(N)]
    running_scores = torch.zeros(N, dtype=torch.float32)
    running_scores[1:] = NEG
    finished = [list(prompt) for _ in range(N)]
    finished_scores = torch.full((N,), NEG, dtype=torch.float32)
    finished_flag = torch.zeros(N, dtype=torch.bool)
    unsatisfied = True
    cur = P
    while True:
        logits, _ = model.forward(torch.tensor(running, dtype=torch.long))
        logits = logits[:, -1, :]
        rows = []
        for i in range(N):
            lp = F.log_softmax(logits[i], dim=-1)
            if rep_penalty != 1.0:
                lp = repetition_penalty(running[i], lp, rep_penalty)
            if ngram > 0:
                lp = no_repeat_ngram(running[i], lp, ngram)
            if bad is not None:
                lp = bad(running[i], lp)
            lp = min_length_processors(running[i], lp, P, eos, min_length, min_new_tokens)
            if forced is not None:
                lp = forced(running[i], lp)
            if do_sample:
                keep = max(2, len(eos) + 1) if N > 1 else 1
                if temperature != 1.0:
                    lp = lp / temperature
                if top_k > 0:
                    lp = top_k_warper(lp, top_k, keep)
                if top_p < 1.0:
                    lp = top_p_warper(lp, top_p, keep)
            rows.append(lp)
        acc = (torch.stack(rows) + running_scores[:, None]).reshape(N * V)
        if do_sample:
            top_idx = draw_without_replacement(acc, K, uniforms)
            top_scores = acc[top_idx]
        else:
            top_scores, top_idx = torch.topk(acc, K)
        cand = [running[int(ix) // V] + [int(ix) % V] for ix in top_idx]
        hits = torch.tensor([c[-1] in eos or len(c) >= max_length for c in cand])

        # Running beams for the next step.
        run_scores = top_scores + hits.to(torch.float32) * NEG
        nxt = torch.topk(run_scores, N)[1]
        new_running = [list(cand[int(j)]) for j in nxt]
        new_running_scores = run_scores[nxt]

        # Finished beams.
        just_finished = hits & top_mask
        sc = top_scores / ((cur + 1 - P) ** length_penalty)
        full = bool(finished_flag.all()) and early_stopping is True
        sc = sc + float(full) * NEG
        sc = sc + float(not unsatisfied) * NEG
        sc = sc + (~just_finished).to(torch.float32) * NEG
        merged_seqs = finished + cand
        merged_scores = torch.cat((finished_scores, sc))
        merged_flags = torch.cat((finished_flag, just_finished))
        keep = torch.topk(merged_scores, N)[1]
        finished = [list(merged_seqs[int(k)]) for k in keep]
        finished_scores = merged_scores[keep]
        finished_flag = merged_flags[keep]

        running, running_scores = new_running, new_running_scores
        cur += 1
        if early_stopping == "never" and length_penalty > 0.0:
            n = max_length - P
        else:
            n = cur - P
        best = running_scores[0] / (n ** length_penalty)
        worst = torch.where(finished_flag, finished_scores.min(), torch.tensor(NEG))
        unsatisfied = unsatisfied and bool((best > worst).any())
        open_beam = not (bool(finished_flag.all()) and early_stopping is True)
        if not (unsatisfied and open_beam and not bool(hits.all())):
            break
    return ([s[P:] for s in finished[:num_return_sequences]],
            [float(x) for x in finished_scores[:num_return_sequences]])


CASES = [
    # name, prompt, kwargs
    ("n3", [3, 17, 42], dict(num_beams=3, max_new_tokens=8)),
    ("n4_return3", [50, 1, 2, 98], dict(num_beams=4, max_new_tokens=10, num_return_sequences=3)),
    ("lp0", [7, 7, 8], dict(num_beams=3, max_new_tokens=9, length_penalty=0.0)),
    ("lp2_never", [7, 7, 8], dict(num_beams=3, max_new_tokens=9, length_penalty=2.0, early_stopping="never")),
    ("early_true", [11, 48, 85], dict(num_beams=4, max_new_tokens=12, early_stopping=True, num_return_sequences=4)),
    ("rep_ngram", [3, 17, 42, 3, 17], dict(num_beams=3, max_new_tokens=10, rep_penalty=1.5, ngram=2,
                                           num_return_sequences=2)),
    ("n1", [5, 6], dict(num_beams=1, max_new_tokens=6)),
    ("one_token", [3, 17, 42], dict(num_beams=3, max_new_tokens=1, num_return_sequences=3)),
    # Cases found by search where a variant of the algorithm differs: "never"
    # against False with a positive length penalty, and an EOS continuation
    # ranked below the first num_beams (which must not join the finished list).
    ("lp2_false", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=2.0, num_return_sequences=2, eos=[83])),
    ("lp2_never2", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=2.0, early_stopping="never",
                                  num_return_sequences=2, eos=[83])),
    ("rank_mask", [11], dict(num_beams=2, max_new_tokens=10, length_penalty=0.0, num_return_sequences=2, eos=[83])),
    ("rank_mask_neg", [11], dict(num_beams=2, max_new_tokens=10, length_penalty=-1.0, num_return_sequences=2, eos=[83])),
    ("rank_mask3", [55, 81], dict(num_beams=3, max_new_tokens=10, length_penalty=0.0, num_return_sequences=3, eos=[83])),
]


# Minimum-length cases: (name, mode, prompt, kwargs, eos). The EOS lists were
# found by search: without a minimum the run ends within a token or two,
# and with it the run ends on an EOS right where the mask lifts (the
# "boundary" cases) or later, or never.
MIN_CASES = [
    ("greedy_min_new0", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=0), [62]),
    ("greedy_min_new1", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=1), [62]),
    ("greedy_min_new2", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=2), [62]),
    ("greedy_min_new5_boundary", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=5), [62]),
    ("greedy_min_new6", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=6), [62]),
    ("greedy_min_new_over_max", "greedy", [11, 48, 85], dict(max_new_tokens=4, min_new_tokens=9), [62]),
    ("greedy_two_eos_free", "greedy", [11, 48, 85], dict(max_new_tokens=10), [62, 15]),
    ("greedy_two_eos_boundary", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=2), [62, 15]),
    ("greedy_three_eos", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=1), [15, 62, 96]),
    ("greedy_min_length_prompt", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_length=3), [62]),
    ("greedy_min_length4", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_length=4), [62]),
    ("greedy_min_length8_boundary", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_length=8), [62]),
    ("greedy_min_new_wins", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_length=8, min_new_tokens=1), [62]),
    ("greedy_min_new_rep", "greedy", [11, 48, 85], dict(max_new_tokens=10, min_new_tokens=2, rep_penalty=1.5, ngram=2),
     [62, 15]),
    ("beam_min_new0", "beam", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=0.0, num_return_sequences=2),
     [83]),
    ("beam_min_new3_boundary", "beam", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=0.0,
                                                      min_new_tokens=3, num_return_sequences=2), [83]),
    ("beam_min_new4_boundary", "beam", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=0.0,
                                                      min_new_tokens=4, num_return_sequences=2), [83]),
    ("beam_min_new3_two_eos", "beam", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=0.0,
                                                     min_new_tokens=3, num_return_sequences=2), [59, 83]),
    ("beam3_min_new3", "beam", [72, 97], dict(num_beams=3, max_new_tokens=10, min_new_tokens=3,
                                              num_return_sequences=3), [83]),
    ("beam_min_new4_never", "beam", [55, 81], dict(num_beams=2, max_new_tokens=10, length_penalty=2.0,
                                                   early_stopping="never", min_new_tokens=4,
                                                   num_return_sequences=2), [83]),
    ("beam_min_length7", "beam", [50, 1, 2, 98], dict(num_beams=2, max_new_tokens=10, length_penalty=0.0,
                                                       min_length=7, num_return_sequences=2), [15]),
]


# Beam-sampling cases: (name, prompt, kwargs, eos, seed of the uniforms).
SAMPLE_CASES = [
    ("beam_sample_n3", [3, 17, 42], dict(num_beams=3, max_new_tokens=8), [99], 1),
    ("beam_sample_temp", [3, 17, 42], dict(num_beams=3, max_new_tokens=8, temperature=0.7), [99], 2),
    ("beam_sample_hot", [50, 1, 2, 98], dict(num_beams=4, max_new_tokens=10, temperature=1.8,
                                             num_return_sequences=3), [15], 3),
    ("beam_sample_topk", [11, 48, 85], dict(num_beams=3, max_new_tokens=10, top_k=4, num_return_sequences=3), [62], 4),
    ("beam_sample_topk1", [11, 48, 85], dict(num_beams=2, max_new_tokens=8, top_k=1, num_return_sequences=2), [62], 5),
    ("beam_sample_topp", [7, 7, 8], dict(num_beams=3, max_new_tokens=9, top_p=0.6, temperature=0.9,
                                         num_return_sequences=2), [83], 6),
    ("beam_sample_topp_tiny", [7, 7, 8], dict(num_beams=2, max_new_tokens=9, top_p=0.05), [83], 7),
    ("beam_sample_early_true", [72, 97], dict(num_beams=3, max_new_tokens=10, early_stopping=True,
                                              num_return_sequences=3), [83], 8),
    ("beam_sample_never_lp2", [72, 97], dict(num_beams=2, max_new_tokens=10, length_penalty=2.0,
                                             early_stopping="never", num_return_sequences=2), [83], 9),
    ("beam_sample_lp0", [55, 81], dict(num_beams=3, max_new_tokens=10, length_penalty=0.0,
                                       num_return_sequences=3), [83], 10),
    ("beam_sample_lp_neg", [11], dict(num_beams=2, max_new_tokens=10, length_penalty=-1.0,
                                      num_return_sequences=2), [83], 11),
    ("beam_sample_two_eos", [72, 97], dict(num_beams=2, max_new_tokens=10, top_k=3, min_new_tokens=2,
                                           num_return_sequences=2), [59, 83], 12),
    ("beam_sample_rep", [3, 17, 42, 3, 17], dict(num_beams=3, max_new_tokens=10, rep_penalty=1.5, ngram=2,
                                                 top_k=20, top_p=0.9, num_return_sequences=2), [99], 13),
    ("beam_sample_no_eos", [5, 6], dict(num_beams=2, max_new_tokens=6, top_k=5), [], 14),
    # Fewer tokens with a probability above 0 (top-k 1, raised to 2) than
    # num_beams: the third continuation of the first num_beams is one drawn
    # with probability 0 (loupe's rule: the best remaining score, a beam still
    # at -1e9, where -1e9 + its log-prob rounds to -1e9 in float32); it ties
    # the empty finished slots, and one of those, the prompt alone, is the
    # third sequence returned (score -1e9).
    ("beam_sample_fallback", [3, 17, 42], dict(num_beams=3, max_new_tokens=1, top_k=1, num_return_sequences=3),
     [99], 15),
]


def beam_fields(kw):
    """The beam-search settings of a golden case, in the file's key order."""
    return {"num_beams": kw["num_beams"], "max_new_tokens": kw["max_new_tokens"],
            "length_penalty": kw.get("length_penalty", 1.0),
            "early_stopping": str(kw.get("early_stopping", False)).lower(),
            "num_return_sequences": kw.get("num_return_sequences", 1),
            "repetition_penalty": kw.get("rep_penalty", 1.0),
            "no_repeat_ngram_size": kw.get("ngram", 0)}


def sample_cases(model):
    out = []
    for name, prompt, kw, eos, seed in SAMPLE_CASES:
        rng = random.Random(seed)
        used = []

        def uniforms():
            used.append(rng.random())
            return used[-1]

        seqs, scores = beam_search(model, prompt, eos=eos, do_sample=True, uniforms=uniforms, **kw)
        out.append({"name": name, "mode": "beam_sample", "prompt": prompt, "eos_token_id": eos,
                    **beam_fields(kw),
                    "min_new_tokens": kw.get("min_new_tokens", 0),
                    "temperature": kw.get("temperature", 1.0), "top_k": kw.get("top_k", 0),
                    "top_p": kw.get("top_p", 1.0), "uniforms": used,
                    "sequences": seqs, "sequences_scores": scores})
    return out


def min_cases(model):
    out = []
    for name, mode, prompt, kw, eos in MIN_CASES:
        case = {"name": name, "mode": mode, "prompt": prompt, "eos_token_id": eos,
                "num_beams": kw.get("num_beams", 1), "max_new_tokens": kw["max_new_tokens"],
                "length_penalty": kw.get("length_penalty", 1.0),
                "early_stopping": str(kw.get("early_stopping", False)).lower(),
                "num_return_sequences": kw.get("num_return_sequences", 1),
                "repetition_penalty": kw.get("rep_penalty", 1.0),
                "no_repeat_ngram_size": kw.get("ngram", 0),
                "min_new_tokens": kw.get("min_new_tokens", 0), "min_length": kw.get("min_length", 0)}
        if mode == "greedy":
            seq, lps = greedy(model, prompt, kw["max_new_tokens"], eos, rep_penalty=kw.get("rep_penalty", 1.0),
                              ngram=kw.get("ngram", 0), min_length=kw.get("min_length", 0),
                              min_new_tokens=kw.get("min_new_tokens"))
            case.update(sequences=[seq], logprobs=[lps])
        else:
            seqs, scores = beam_search(model, prompt, eos=eos, **kw)
            case.update(sequences=seqs, sequences_scores=scores)
        out.append(case)
    return out


def main():
    cfg, w = reference.load_checkpoint(os.path.join(ROOT, "model", "gpt2", "testdata", "tiny"))
    model = reference.GPT2(cfg, w)
    # EOS lists: the tiny model's eos_token_id (99) is rarely chosen, so the
    # cases also end on tokens the search does pick (found by running it
    # without EOS first), to exercise the finished list.
    out = []
    torch.set_grad_enabled(False)
    for name, prompt, kw in CASES:
        variants = (("eos99", [99]), ("picked", None), ("none", []))
        if "eos" in kw:
            kw = dict(kw)
            variants = (("fixed", kw.pop("eos")),)
        for eos_name, eos in variants:
            if eos is None:
                seqs, _ = beam_search(model, prompt, eos=[], **dict(kw, num_return_sequences=1))
                # The token the best beam picks third and the one another
                # beam picks second: EOS at different lengths.
                eos = sorted({seqs[0][min(2, len(seqs[0]) - 1)], seqs[0][min(4, len(seqs[0]) - 1)]})
            seqs, scores = beam_search(model, prompt, eos=eos, **kw)
            out.append({"name": name + "/" + eos_name, "prompt": prompt, "eos_token_id": eos,
                        **beam_fields(kw),
                        "sequences": seqs, "sequences_scores": scores})
    out += min_cases(model)
    out += sample_cases(model)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
