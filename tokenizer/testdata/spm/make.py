#!/usr/bin/python3
"""Regenerates the SentencePiece test models and golden files in this folder.

Needs Debian's sentencepiece (spm_train) and python3-sentencepiece, and the
bible-kjv package (`bible`). Run from anywhere with /usr/bin/python3:

    /usr/bin/python3 tokenizer/testdata/spm/make.py

It writes, next to itself:
  MODEL.model             one small model per entry of MODELS below;
  cases.jsonl             the case set: one JSON string per line;
  MODEL.expected.jsonl    per case: {"ids": [...], "pieces": [...], "decoded": "..."}
                          from sentencepiece's Python module (encode / decode).
spm_train is deterministic for a given input and flags with --num_threads=1
and --shuffle_input_sentence=false, and the training text (train.txt) is
written to a temporary folder and named by a relative path, so rerunning gives
byte-identical files.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))

# Lines in other scripts, added to the training text so that the models hold
# some of their pieces (the cases use other sentences as well).
MULTI_TRAIN = [
    "Le café est très bon, mais l'hôtel était fermé à Noël.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein, sagte Jürgen.",
    "El niño comió una manzana en la mañana del miércoles.",
    "Ça va? Où est la bibliothèque? À bientôt, Chloé!",
    "Москва — столица России. Привет, как дела?",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "東京は日本の首都です。今日はいい天気ですね。",
    "我爱北京天安门。中华人民共和国成立于一九四九年。",
    "한국어는 아름다운 언어입니다. 안녕하세요!",
    "مرحبا بالعالم. اللغة العربية جميلة جدا.",
    "שלום עולם, מה שלומך היום?",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีครับ ยินดีที่ได้รู้จัก",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14159 1,000,000 -42 +7",
    "Phone 555-0123, ZIP 90210, 12:30pm, 50% off, $19.99, €5, £3, ¥100.",
    "Emoji: 😀 😂 ❤️ 👍 🎉 🔥 🙏 🇫🇷 👨‍👩‍👧",
    "Fullwidth ＡＢＣ １２３ and ligatures ﬁ ﬂ and ① ② ③ and ㍿.",
    "Tabs\tand\tnew lines and   many   spaces.",
]

# name -> spm_train flags (beyond the common ones).
MODELS = {
    "unigram": ["--model_type=unigram", "--vocab_size=2000"],
    "unigram-bytes": ["--model_type=unigram", "--vocab_size=2000", "--byte_fallback=true"],
    "unigram-identity": ["--model_type=unigram", "--vocab_size=1500",
                         "--normalization_rule_name=identity",
                         "--user_defined_symbols=<sep>,<cls>,[MASK]",
                         "--control_symbols=<ctl>"],
    "unigram-nfkc-ws": ["--model_type=unigram", "--vocab_size=1500",
                        "--normalization_rule_name=nfkc", "--remove_extra_whitespaces=false",
                        "--split_digits=true"],
    "unigram-custom": ["--model_type=unigram", "--vocab_size=1200",
                       "--normalization_rule_tsv=RULES", "--add_dummy_prefix=false"],
    "bpe": ["--model_type=bpe", "--vocab_size=2000"],
    "bpe-bytes-identity": ["--model_type=bpe", "--vocab_size=2000", "--byte_fallback=true",
                           "--normalization_rule_name=identity"],
    "bpe-userdef": ["--model_type=bpe", "--vocab_size=1000", "--user_defined_symbols=<sep>,@@,Lord",
                    "--character_coverage=0.98"],
    "bpe-suffix": ["--model_type=bpe", "--vocab_size=1000", "--treat_whitespace_as_suffix=true"],
    "unigram-denorm": ["--model_type=unigram", "--vocab_size=1000", "--normalization_rule_name=identity",
                       "--denormalization_rule_tsv=DENORM"],
    # T5's layout: pad 0, </s> 1, <unk> 2, no <s>.
    "t5": ["--model_type=unigram", "--vocab_size=1500", "--pad_id=0", "--eos_id=1",
           "--unk_id=2", "--bos_id=-1"],
}

# A custom normalization rule TSV: source code points, tab, target code points.
RULES = [
    ("41", "61"),            # A -> a
    ("42", "62"),            # B -> b
    ("54 68", "74 68"),      # "Th" -> "th" (a two-character rule)
    ("FF01", "21"),          # fullwidth ! -> !
    ("9", "20"),             # tab -> space
    ("2014", "2D 2D"),       # em dash -> "--"
    ("E9", "65 301"),        # é -> e + combining acute
    ("4C 4F 52 44", "4C 6F 72 64"),  # LORD -> Lord
]


# Denormalization rules, applied to decoded text: "--" -> em dash, "LORD" -> "Lord".
DENORM = [
    ("2D 2D", "2014"),
    ("4C 4F 52 44", "4C 6F 72 64"),
]


def bible_lines():
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    lines = []
    for line in out.splitlines():
        ref, _, text = line.partition(" ")
        if text.strip():
            lines.append(text.strip())
    return lines


def make_cases(verses):
    rnd = random.Random(15)
    cases = [
        "", " ", "  ", "\t", "\n", " \t \n ", "a", "I", "Lord", "LORD", "the",
        "Hello world", " Hello world", "Hello world ", "  Hello   world  ",
        "Hello\tworld", "Hello\nworld", "Hello\r\nworld", "Hello \t\n world",
        "hello\u00a0world", "hello\u2003world", "hello\u3000world", "hello\u200bworld",
        "x\u0085y", "x\ufeffy", "a\u2028b",
        "In the beginning God created the heaven and the earth.",
        "AND GOD SAID, LET THERE BE LIGHT.", "and god said, let there be light.",
        "Jesus wept.", "Selah.", "Hallelujah!!!", "...", "?!?!", "«quoted»", "\"quoted\"",
        "it's", "can't won't", "O'Brien", "e-mail", "foo_bar_baz", "C++ and C#",
        "0", "7", "42", "2024", "3.14159", "1,000,000", "1234567890", "007", "v1.2.3",
        "12:30", "50%", "$19.99", "+1 (555) 010-9999", "10^6", "1e-9", "٣٤٥", "४५६", "１２３",
        "café", "cafe\u0301", "naïve", "Ünïcödé", "ÅNGSTRÖM", "résumé", "Œuvre", "straße",
        "İstanbul", "ǅ", "Ⅻ", "ﬁnal ﬂow", "①②③", "㍿", "½ ¼ ¾", "x²", "H₂O", "™ ©",
        "ＡＢＣ", "ｈｅｌｌｏ", "ｶﾀｶﾅ", "Ω Ω", "Å Å", "\u1e9b\u0323",
        "Москва", "привет мир", "ЁЖИК", "東京", "日本語のテキスト", "中文测试", "我爱你",
        "한국어", "안녕", "مرحبا", "العربية", "שלום", "Ελληνικά", "नमस्ते", "สวัสดี",
        "ქართული", "Հայերեն", "አማርኛ", "ᚠᛇᚻ", "𐌰𐌱𐌲", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚",
        "😀", "😀😀😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "❤️", "☃", "♠♥♦♣", "🦀 rust",
        "a😀b", "emoji 😂 in text 🎉!", "\u2581", "\u2581\u2581hello", "hello\u2581world",
        "\x00", "a\x00b", "\x07bell", "\x1b[31mred\x1b[0m", "\x7f", "\ufffd", "\ue000",
        "\U0010ffff", "\u00ad", "soft\u00adhyphen", "zero\u200dwidth", "rtl\u200fmark",
        "<s>", "</s>", "<unk>", "<pad>", "<sep>", "<cls>", "[MASK]", "<ctl>", "@@",
        "a<sep>b", "<sep><sep>", " <sep> ", "Lord<sep>God", "LordLord", "@@@@@",
        "<0x41>", "▁the", "the▁", "Th", "The", "THE", "A B", "AB", "—", "a—b",
        "LORD God", "\uff01", "Tab\there",
    ]
    # Whitespace runs and edges.
    words = ["the", "Lord", "said", "unto", "Moses", "café", "東京", "😀", "42"]
    for i in range(40):
        seps = [" ", "  ", "   ", "\t", "\n", " \t", "\u3000", "\u00a0", ""]
        parts = []
        if rnd.random() < 0.5:
            parts.append(rnd.choice(seps))
        for _ in range(rnd.randint(1, 5)):
            parts.append(rnd.choice(words))
            parts.append(rnd.choice(seps))
        cases.append("".join(parts))
    # Verses, some held out of the training text (chapters that are multiples of 10 are not special here).
    for v in rnd.sample(verses, 120):
        cases.append(v)
    # Upper-cased and mangled verses.
    for v in rnd.sample(verses, 20):
        cases.append(v.upper())
    for v in rnd.sample(verses, 20):
        cases.append(v.replace(" ", "  ").replace(",", " ,"))
    # Multilingual sentences not in the training text.
    cases += [
        "Les élèves étudient à l'université de Genève depuis août.",
        "Die Straßenbahn fährt um 8 Uhr über die Brücke.",
        "¿Dónde está la estación de tren? ¡Gracias!",
        "Я люблю программировать на Go и читать книги.",
        "今日は寿司を食べました。明日は京都へ行きます。",
        "这是一个用于测试分词器的句子。",
        "저는 학생입니다. 도서관에 갑니다.",
        "أنا أحب القراءة والكتابة كل يوم.",
        "אני אוהב ללמוד שפות חדשות.",
        "Το σπίτι μας είναι κοντά στη θάλασσα.",
        "मुझे हिंदी पढ़ना पसंद है।",
        "ฉันชอบกินข้าวผัด",
        "Mixed: English, Français, Deutsch, Русский, 日本語, 한국어, العربية 123 😀",
        "Tiếng Việt có nhiều dấu: ạ ả ã ầ ẩ ẫ ậ.",
        "Polski: zażółć gęślą jaźń. Čeština: příliš žluťoučký kůň.",
        "Türkçe: çğıöşü ÇĞİÖŞÜ.",
    ]
    # Random strings of code points from many blocks (seeded).
    blocks = [(0x20, 0x7e), (0xa0, 0x17f), (0x300, 0x36f), (0x370, 0x3ff), (0x400, 0x4ff),
              (0x590, 0x5ff), (0x600, 0x6ff), (0x900, 0x97f), (0xe00, 0xe7f), (0x3040, 0x30ff),
              (0x4e00, 0x4fff), (0xac00, 0xacff), (0xff00, 0xffef), (0x1f300, 0x1f64f),
              (0x2000, 0x206f), (0x2100, 0x218f), (0x1d400, 0x1d4ff)]
    for i in range(60):
        s = []
        for _ in range(rnd.randint(1, 25)):
            lo, hi = rnd.choice(blocks)
            c = rnd.randint(lo, hi)
            if 0xd800 <= c <= 0xdfff:
                continue
            s.append(chr(c))
        cases.append("".join(s))
    # A long line (a whole chapter) and a long word.
    cases.append(" ".join(verses[:31]))
    cases.append("abc" * 200)
    cases.append("😀" * 50)
    seen, out = set(), []
    for c in cases:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def main():
    verses = bible_lines()
    with tempfile.TemporaryDirectory() as tmp:
        train = os.path.join(tmp, "train.txt")
        with open(train, "w", encoding="utf-8") as f:
            for v in verses:
                f.write(v + "\n")
            for _ in range(20):
                for m in MULTI_TRAIN:
                    f.write(m + "\n")
        rules = os.path.join(tmp, "rules.tsv")
        with open(rules, "w", encoding="utf-8") as f:
            for src, dst in RULES:
                f.write(src + "\t" + dst + "\n")
        with open(os.path.join(tmp, "denorm.tsv"), "w", encoding="utf-8") as f:
            for src, dst in DENORM:
                f.write(src + "\t" + dst + "\n")
        for name, flags in MODELS.items():
            # Relative paths (run in tmp), so that the trainer_spec stored in
            # the model does not hold the random temporary folder.
            flags = [fl.replace("RULES", "rules.tsv").replace("DENORM", "denorm.tsv") for fl in flags]
            prefix = os.path.join(tmp, name)
            cmd = ["spm_train", "--input=train.txt", "--model_prefix=" + name,
                   "--num_threads=1", "--shuffle_input_sentence=false",
                   "--input_sentence_size=0", "--minloglevel=2"] + flags
            subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
            with open(prefix + ".model", "rb") as f:
                data = f.read()
            with open(os.path.join(HERE, name + ".model"), "wb") as f:
                f.write(data)
            print(name, len(data), "bytes", file=sys.stderr)
    cases = make_cases(verses)
    with open(os.path.join(HERE, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    for name in MODELS:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(HERE, name + ".model"))
        with open(os.path.join(HERE, name + ".expected.jsonl"), "w", encoding="utf-8") as f:
            for c in cases:
                ids = sp.encode(c)
                pieces = sp.encode(c, out_type=str)
                f.write(json.dumps({"ids": ids, "pieces": pieces, "decoded": sp.decode(ids)},
                                   ensure_ascii=False) + "\n")
    print(len(cases), "cases", file=sys.stderr)


if __name__ == "__main__":
    main()
