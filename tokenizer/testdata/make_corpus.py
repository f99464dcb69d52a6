#!/usr/bin/python3
"""Writes corpus.jsonl: the test strings (one JSON string per line) that the
reference tokenizers are run over (see make_expected.sh). Edit here, then run
make_expected.sh to regenerate corpus.jsonl and the expected files."""
import json, os

corpus = [
    # English
    "Hello world",
    "Hello, world!",
    "The Illustrated Transformer is a blog post by Jay Alammar.",
    "hello", " hello", "  hello", "Hello", "HELLO", "hELLo wOrLd",
    "A quick brown fox jumps over the lazy dog.",
    "",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", " \n", "\n ", " \n ",
    # runs of spaces, tabs, newlines, trailing spaces
    "a  b", "a   b", "a    b", "a\tb", "a\t\tb", "a \tb", "a\t b", "a\nb", "a\n\nb", "a \n b",
    "trailing space ", "trailing spaces   ", "trailing tab\t", "trailing newline\n",
    "line one\nline two\n\nparagraph two\n",
    "\r\n", "a\r\nb", "windows\r\nline\r\nendings\r\n",
    "  leading spaces", "\tleading tab", "\n\nleading newlines",
    "x\u000by\u000cz",
    "no\u00a0break", "em\u2003space", "ideographic\u3000space", "a \u3000b",
    # contractions
    "I'm you're he's she'll we've they'd it's don't can't won't",
    "I'M YOU'RE HE'S SHE'LL WE'VE THEY'D IT'S DON'T",
    "John's car isn't Mary's", "JOHN'S CAR", "'s", "'S", "'t", "'re", "'ll", "'d", "'m", "'ve", "''s", "'", "''",
    "rock 'n' roll", "'quoted'", "' s", "x's's", "y'know", "o'clock",
    "it’s curly", "dogs' bones",
    # numbers
    "123", "1234567890", "3.14159", "1,000,000", "2024-01-15", "v1.2.3", "0x1F", "1e-5", "-42", "$99.99", "50%",
    "Call 555-0123 now", "a1b2c3", "Ⅻ roman numeral", "½ and ¾", "٣٤٥ arabic digits", "१२३ devanagari digits", "²³ superscripts",
    # punctuation
    "!!!", "?!?!", "...", "…", "—", "--", "(a)", "[b]", "{c}", "<d>", "a.b.c", "e-mail", "#hashtag", "@user", "foo@example.com",
    "https://example.com/path?q=1&r=2#frag", "\"double\" 'single'", "«guillemets»", "¿Qué?", "¡Hola!",
    "a , b", "a ,b", " !", "  !", " ! ", "hello . world", "end.",
    # code
    "def f(x):\n    return x + 1\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}\n",
    "if __name__ == \"__main__\":\n    main()",
    "const x = () => { console.log('hi'); };",
    "<html><body class=\"x\">Hi</body></html>",
    "SELECT * FROM users WHERE id = 42;",
    "    indented four\n        indented eight\n",
    "x=1;y=2\nz = x+y",
    # emoji
    "I love 🤗 and 🚀!", "👍", "👨‍👩‍👧‍👦 family", "🇩🇪 flag", "❤️", "emoji at end 😀", "😀😃😄",
    # CJK
    "你好，世界", "日本語のテキスト", "한국어 텍스트", "中文 English 混合", "東京タワー",
    # combining marks, accents
    "café", "cafe\u0301", "naïve résumé", "Ünïcödé", "Crème Brûlée", "e\u0301\u0301", "\u0301alone", "a\u0300 b\u0300",
    "Zürich Straße", "ÅÄÖ åäö", "ﬁ ligature", "Ω≈ç√∫",
    # Arabic, Hindi, others
    "مرحبا بالعالم", "السلام عليكم", "नमस्ते दुनिया", "हिन्दी भाषा", "Привет, мир!", "Γειά σου Κόσμε", "שלום עולם", "สวัสดีครับ",
    # long words
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 120, "ab" * 70, "x" * 300, "0" * 50, "!" * 40, "Llanfairpwllgwyngyllgogerychwyndrobwllllantysiliogogogoch",
    # special-token text (plain text for the original encoder)
    "<|endoftext|>", "Hello<|endoftext|>World", " <|endoftext|> ",
    # misc / control characters
    "tab\tseparated\tvalues", "nul\u0000byte", "bell\u0007", "del\u007f", "soft\u00adhyphen", "zero\u200bwidth", "\ufffd replacement",
    "mixed 123abc ABC123 !@# $%^", "UPPER lower Title", "snake_case_name camelCaseName kebab-case-name",
    # WordPiece edge cases
    "ΟΔΟΣ ΟΔΟΣ. Σ ΑΣ", "İstanbul", "line\u2028separator", "para\u2029sep", "fs\u001cgs\u001drs", "nel\u0085x", "shy\u00ad",
    "é" * 100, "é" * 101, "a" * 100, "a" * 101, "x" * 99 + "!", "𠀀𠀁 ext-B", "㐀 ext-A", "豈 compat", "[CLS] not special [SEP]", "[UNK]",
    "ＦＵＬＬＷＩＤＴＨ", "ǅungla", "ﬀ", "Ⅷ", "ß", "ŉ",
    # Known differences between node's regex and Go's unicode tables (see README.md):
    # U+0085 is \s in Go (White_Space) but not in JS; U+FEFF the reverse;
    # U+1E5D0 (Ol Onal, Unicode 16) is \p{L} in node 20 (Unicode 17) but unassigned in Go 1.26 (Unicode 15).
    "x \u0085y", "x \ufeffy", "x\U0001E5D0y",
    # paragraphs
    "The transformer architecture, introduced in \"Attention Is All You Need\" (2017), replaced recurrence with self-attention. "
    "Each layer lets every token attend to every other token, which makes training highly parallel. "
    "GPT-2 stacks 12 such decoder layers in its smallest version; GPT-2 XL has 48.\n\n"
    "Byte-level BPE means that any string can be encoded: there are no unknown tokens.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, "
    "it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness.",
    "Q: What's 2+2?\nA: It's 4.\n\nQ: Who wrote \"Hamlet\"?\nA: Shakespeare — in about 1600.\n",
    "   Multiple   spaces   between   words   and\ttabs\tand\n\nnewlines  \n  everywhere.   ",
]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for s in corpus:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")
print(len(corpus), "strings")
