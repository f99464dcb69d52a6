#!/usr/bin/python3
"""Reference ids of transformers' MBartTokenizer and MBart50Tokenizer (slow,
SentencePiece) for seq2seq's TestMBartReference, written without transformers
(not installable here) from tokenization_mbart.py and tokenization_mbart50.py:

- fairseq_tokens_to_ids = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3};
  fairseq_offset = 1; lang_code_to_id[code] = len(sp_model) + i + 1 for the
  i-th code of FAIRSEQ_LANGUAGE_CODES; "<mask>" after the codes;
- _tokenize = sp_model.encode(text, out_type=str); _convert_token_to_id =
  fairseq_tokens_to_ids[token], else sp_model.PieceToId(token) + 1 when that is
  not 0, else the unk id 3;
- MBartTokenizer.set_src_lang_special_tokens: prefix [], suffix [eos, code];
  MBart50Tokenizer's: prefix [code], suffix [eos].

The SentencePiece model is the tokenizer package's BPE test model. Regenerate
from the repository root with

    /usr/bin/python3 seq2seq/testdata/mbart_reference.py > seq2seq/testdata/mbart.json
"""
import json

import sentencepiece as spm

CC25 = ["ar_AR", "cs_CZ", "de_DE", "en_XX", "es_XX", "et_EE", "fi_FI", "fr_XX", "gu_IN", "hi_IN", "it_IT", "ja_XX",
        "kk_KZ", "ko_KR", "lt_LT", "lv_LV", "my_MM", "ne_NP", "nl_XX", "ro_RO", "ru_RU", "si_LK", "tr_TR", "vi_VN", "zh_CN"]
FIFTY = CC25 + ["af_ZA", "az_AZ", "bn_IN", "fa_IR", "he_IL", "hr_HR", "id_ID", "ka_GE", "km_KH", "mk_MK", "ml_IN", "mn_MN",
                "mr_IN", "pl_PL", "ps_AF", "pt_XX", "sv_SE", "sw_KE", "ta_IN", "te_IN", "th_TH", "tl_XX", "uk_UA", "ur_PK",
                "xh_ZA", "gl_ES", "sl_SI"]
TEXTS = ["Hello world", "  The house is wonderful.  ", "Ünïcödé naïve café", "12345 67.89", "日本語のテキスト",
         "tabs\tand\nnewlines", "a", "emoji 🙂 here", "UN Chief Says There Is No Military Solution in Syria"]


def main():
    sp = spm.SentencePieceProcessor()
    sp.Load("tokenizer/testdata/spm/bpe.model")
    fixed = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}

    def to_id(tok):
        if tok in fixed:
            return fixed[tok]
        i = sp.PieceToId(tok)
        return i + 1 if i else 3

    out = []
    for fifty, codes in ((False, CC25), (True, FIFTY)):
        lang = {c: len(sp) + i + 1 for i, c in enumerate(codes)}
        for text in TEXTS:
            for code in ("en_XX", "ro_RO", "zh_CN"):
                ids = [to_id(t) for t in sp.encode(text, out_type=str)]
                ids = [lang[code]] + ids + [2] if fifty else ids + [2, lang[code]]
                out.append({"fifty": fifty, "text": text, "lang": code, "ids": ids})
    json.dump(out, __import__("sys").stdout, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
