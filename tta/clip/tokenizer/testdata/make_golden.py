#!/usr/bin/python3
"""Writes the golden files of tta/clip/tokenizer from OpenAI's own CLIP tokenizer.

Usage (see README.md beside this file):

    cd tta/clip/tokenizer/testdata
    PYTHONPATH=/tmp/stubs:/tmp/clipref /usr/bin/python3 make_golden.py --out .

where /tmp/clipref is a checkout of github.com/openai/CLIP (not committed here) and /tmp/stubs holds the two
stand-in modules printed by `make_golden.py --print-stubs` (ftfy.fix_text = Unicode NFC only; tqdm unused).

Outputs:
  golden.jsonl       one record per corpus text: the text, the context length, the cleaned text, the BPE ids
                     (encode), decode(encode), clip.tokenize(..., truncate=False) ids or its error, and
                     clip.tokenize(..., truncate=True) ids.
  decode.jsonl       [ids, decode(ids)] for id sequences, many forming ill-formed UTF-8.
  html.jsonl         [input, html.unescape(input)] for every HTML5 entity name and for numeric edge cases.
  unicode.json       Python's/regex's character classes over all code points (ranges), str.lower() of every code
                     point it changes, and the final-sigma contexts of str.lower().
  hf/vocab.json.gz, hf/merges.txt.gz
                     the same vocabulary in Hugging Face's format (vocab.json token->id, merges.txt with a
                     "#version: 0.2" header), gzip with mtime 0.
"""
import argparse
import gzip
import html
import html.entities
import json
import os
import random
import sys
import unicodedata

STUBS = {
    "ftfy.py": '"""Stand-in for ftfy (not installable offline): fix_text only applies Unicode NFC."""\n'
               "import unicodedata\n\n\ndef fix_text(text, *args, **kwargs):\n"
               "    return unicodedata.normalize('NFC', text)\n",
    "tqdm.py": '"""Stand-in for tqdm (used only by CLIP\'s downloader, never called here)."""\n\n\n'
               "def tqdm(*args, **kwargs):\n    raise RuntimeError('tqdm stand-in')\n",
}


def edge_cases(classes):
    """Hand-written corpus: punctuation, digits, contractions, accents, scripts, emoji, HTML, whitespace."""
    long_classes = "a photo of a " + " and a ".join(classes[:40]) + "."
    return [
        # punctuation
        "Hello, world!", "What?!", "...", "a--b", "(parenthesized) [bracketed] {braced}", "50% off!!!",
        "e-mail: someone@example.com", "https://example.com/path?q=1&r=2", "C++ and C#", "#hashtag @mention",
        "$100.00", "¿Qué? ¡Sí!", "«quotes» „low“", '"double quotes"', "'single quotes'", "a/b\\c",
        "~!@#$%^&*()_+`-={}|[]:\";'<>?,./", "end.", ".start", "a.b.c", "x!<|endoftext|>", "<<<>>>",
        "—em dash– en dash", "…ellipsis", "•bullet", "§ ¶ † ‡", "a_b_c", "snake_case_name", "CamelCaseName",
        # digits
        "123", "3.14159", "1,000,000", "2nd 3rd 4th", "covid-19", "007", "x2", "½ ¼ ¾", "Ⅻ", "①②③",
        "٣٤٥", "๑๒๓", "10⁶", "x²", "1st place", "route66", "4k ultra hd", "12:30pm", "2022-11-27",
        "９８７ fullwidth digits",
        # contractions, upper and lower case
        "don't", "DON'T", "it's", "IT'S", "we're", "WE'RE", "I've", "I'VE", "I'm", "I'M", "we'll", "WE'LL",
        "he'd", "HE'D", "can't won't shouldn't", "CAN'T WON'T", "rock'n'roll", "'s", "''s", "'re'", "o'clock",
        "the dog's ball", "the dogs' balls", "it’s curly", "it'ſ long s", "'S'T'RE'VE'M'LL'D", "'x 'z",
        "l'homme d'affaires",
        # accents and case
        "café", "cafe\u0301 decomposed", "naïve résumé", "Ångström", "Crème brûlée", "São Paulo", "Zürich",
        "Łódź", "Dvořák", "İstanbul", "ΟΔΟΣ", "ΣΊΣΥΦΟΣ", "Σ", "aΣ", "Σa", "ΑΣ.", "ΑΣ'Α", "ΑΣ'", "Α.Σ",
        "ὈΔΥΣΣΕΎΣ", "straße STRASSE ẞ", "ǅungla ǈ ǋ", "ﬁ ligature ﬂ", "Ⅷ ⅷ", "KELVIN \u212a", "Ω ohm",
        "ÀÉÎÕÜ", "Ĳssel", "ŉ", "ǰ", "ΐ", "Ⓐⓑ", "𝐁𝐨𝐥𝐝 math", "Ａ photo", "ｆｕｌｌｗｉｄｔｈ",
        # scripts
        "猫の写真", "一张狗的照片", "고양이 사진", "日本語テキスト", "𠀀 ext B", "ㄅㄆㄇ", "Привет мир",
        "שלום עולם", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Γειά σου κόσμε", "ሰላም", "Բարեւ",
        "ᚠᚢᚦ runes", "𓀀 hieroglyph", "ꙮ", "Ⴀ Georgian", "Ꭰ Cherokee ꭰ",
        # emoji and symbols
        "😀", "a photo of a 🐶.", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🇯🇵", "❤️", "✨🎉", "☃", "©®™",
        "→ ← ↑ ↓", "∑∫√∞", "♠♥♦♣", "🏳️‍🌈", "a photo of a cat 😺😸",
        # HTML entities
        "&amp;", "&amp;amp;", "&amp;amp;amp;", "&lt;b&gt;bold&lt;/b&gt;", "Tom &amp; Jerry", "&quot;quoted&quot;",
        "it&#39;s", "don&#x27;t", "&nbsp;x&nbsp;", "&copy 2020", "&notit;", "&ampx", "&#9", "&#5", "x&#5",
        "&#0;", "&#128;", "&#x80;", "&#150;", "&#55296;", "&#1114112;", "&#99999999999999;", "&#4294967362;",
        "&#1;", "&#xFFFE;", "&#xFDD0;", "&#x1F600;", "&#128512;", "&Eacute;cole", "&eacute", "&eacuteé",
        "&unknown;", "& alone", "&#;", "&#x;", "&#xZ", "&amp-x;", "&frac12;", "&frac12", "&fjlig;",
        "&NotEqualTilde;", "&ThickSpace;", "&lt", "&LT;", "&Lt;", "a&b", "&&amp;", "&" + "abcdefghij" * 4,
        "e&#769;", "&#13;x", "&#x20;", "&nbsp;&nbsp;", "&ensp;&emsp;&thinsp;", "&#x3000;ideo", "&#10;",
        "&#0065;", "&#X41;", "&#x0000041;", "&#65", "&#x41", "&#x41;&#66", "&amp;#65;", "&amp;lt;",
        "&#38;#65;", "&#x26;amp;", "&#133;", "&#xD;", "&#11;", "&#127;", "&#x10FFFF;", "&#x110000;",
        "&#xDFFF;", "&#65536;", "&#x1FFFE;", "&#64976;",
        # whitespace
        "tab\tseparated", "new\nline", "crlf\r\nline", "  leading and trailing  ", "non\u00a0breaking",
        "\u2003em space", "ideographic\u3000space", "\u200bzero width", "\x1c file sep\x1c", "a\x1cb",
        "\x1c\x1d\x1e\x1f", "\u0085next line", "\u2028line sep\u2029", "\v\f", "", "   ", "\t\n",
        "\u180e mongolian", "\ufeffBOM", "a  \t \n  b", "\u202fnarrow\u205fmath\u1680ogham",
        # control characters
        "\x00", "\x7f", "a\x00b", "bell\x07", "\x1b[31mred\x1b[0m",
        # special tokens
        "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b", "<|ENDOFTEXT|>", "<|ſtartoftext|>",
        "<|endoftext|", "<|startoftext|> hi <|endoftext|>",
        # long inputs (more than 77 tokens)
        long_classes, "word " * 200, "x" * 1000, "1234567890" * 10, "😀" * 50, "a" * 76,
        "the quick brown fox jumps over the lazy dog " * 10, "x " * 75, "x " * 76, "x " * 74,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis",
    ]


def read_classes(imagenet):
    rows = open(os.path.join(imagenet, "classes.tsv"), encoding="utf-8").read().splitlines()
    return [r.split("\t")[2] for r in rows[1:]]


def read_templates(imagenet):
    return open(os.path.join(imagenet, "templates.txt"), encoding="utf-8").read().splitlines()


def corpus(imagenet):
    classes = read_classes(imagenet)
    templates = read_templates(imagenet)
    assert len(classes) == 1000 and len(templates) == 80
    texts = [(f"a photo of a {c}.", 77) for c in classes]
    for i, t in enumerate(templates):
        texts.append((t.format(classes[(i * 13) % 1000]), 77))
        texts.append((t, 77))
    texts += [(t, 77) for t in edge_cases(classes)]
    # Other context lengths.
    for t in ["a photo of a dog.", "a photo of a goldfish.", "", "x " * 10]:
        for n in (1, 2, 3, 8, 16):
            texts.append((t, n))
    return texts


def ranges(pred):
    out, start = [], None
    for c in range(0x110000 + 1):
        ok = c < 0x110000 and not (0xD800 <= c <= 0xDFFF) and pred(chr(c))
        if ok and start is None:
            start = c
        elif not ok and start is not None:
            out.append([start, c - 1])
            start = None
    return out


def main():
    ap = argparse.ArgumentParser()
    # Defaults: the repository's copies, relative to this folder.
    ap.add_argument("--vocab", default="../bpe_simple_vocab_16e6.txt.gz", help="OpenAI's merges file")
    ap.add_argument("--imagenet", default="../../../../datasets/imagenet/testdata",
                    help="folder with classes.tsv and templates.txt")
    ap.add_argument("--out", default=".")
    ap.add_argument("--print-stubs", action="store_true")
    args = ap.parse_args()
    if args.print_stubs:
        for name, src in STUBS.items():
            print(f"# ---- {name}\n{src}")
        return

    import regex
    import ftfy
    assert ftfy.fix_text("e\u0301") == "\u00e9", "expected the NFC stand-in for ftfy"
    import clip.clip as clipmod
    from clip.simple_tokenizer import SimpleTokenizer, basic_clean, whitespace_clean

    tok = SimpleTokenizer(args.vocab)
    clipmod._tokenizer = tok
    os.makedirs(os.path.join(args.out, "hf"), exist_ok=True)

    texts = corpus(args.imagenet)
    with open(os.path.join(args.out, "golden.jsonl"), "w", encoding="utf-8") as f:
        for text, n in texts:
            rec = {"text": text, "context": n,
                   "clean": whitespace_clean(basic_clean(text)).lower()}
            ids = tok.encode(text)
            rec["tokens"] = ids
            rec["decoded"] = tok.decode(ids)
            try:
                rec["ids"] = clipmod.tokenize(text, context_length=n)[0].tolist()
            except RuntimeError as e:
                rec["ids"] = None
                rec["error"] = str(e)
            rec["ids_truncate"] = clipmod.tokenize(text, context_length=n, truncate=True)[0].tolist()
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"golden.jsonl: {len(texts)} records", file=sys.stderr)

    # Decode of id sequences, many of them byte tokens that form ill-formed UTF-8.
    rng = random.Random(0)
    seqs = [[tok.encoder[tok.byte_encoder[b]] for b in bs] for bs in (
        [0xE2, 0x82, 0x41], [0xE0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98],
        [0xC0, 0xAF], [0xFF], [0xF0, 0x9F, 0x98, 0x80], [0xE2, 0x82], [0x80, 0x80], [0xF1, 0x80, 0x41])]
    for _ in range(400):
        seq = []
        for _ in range(rng.randint(1, 12)):
            u = rng.random()
            seq.append(rng.randrange(512) if u < 0.6 else rng.randrange(49406) if u < 0.95 else rng.choice([49406, 49407]))
        seqs.append(seq)
    with open(os.path.join(args.out, "decode.jsonl"), "w", encoding="utf-8") as f:
        for seq in seqs:
            f.write(json.dumps([seq, tok.decode(seq)], ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"decode.jsonl: {len(seqs)} cases", file=sys.stderr)

    # HTML: every entity name, alone and followed by text, plus numeric references of every kind.
    cases = []
    for name in sorted(html.entities.html5):
        cases.append("&" + name)
        cases.append("&" + name + "x;")
    for n in list(range(0, 0x120)) + [0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFDCF, 0xFDD0, 0xFDEF, 0xFDF0, 0xFFFD,
                                       0xFFFE, 0xFFFF, 0x10000, 0x1FFFE, 0x1FFFF, 0x10FFFE, 0x10FFFF, 0x110000,
                                       2 ** 31, 2 ** 32 + 65, 10 ** 20]:
        cases += [f"&#{n};", f"&#{n}", f"&#x{n:x};", f"&#X{n:X}z", f"a&#{n}b"]
    with open(os.path.join(args.out, "html.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps([c, html.unescape(c)], ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"html.jsonl: {len(cases)} cases", file=sys.stderr)

    # Unicode classes as Python and `regex` see them.
    sp, L, N = regex.compile(r"\s"), regex.compile(r"\p{L}"), regex.compile(r"\p{N}")
    lower = [[c, chr(c).lower()] for c in range(0x110000)
             if not (0xD800 <= c <= 0xDFFF) and chr(c).lower() != chr(c)]
    uni = {
        "python_unicode": unicodedata.unidata_version,
        "regex_version": regex.__version__,
        "regex_space": ranges(lambda ch: sp.match(ch) is not None),
        "regex_letter": ranges(lambda ch: L.match(ch) is not None),
        "regex_number": ranges(lambda ch: N.match(ch) is not None),
        "str_isspace": ranges(str.isspace),
        "python_unassigned": ranges(lambda ch: unicodedata.category(ch) == "Cn"),
        "lower": lower,
        # c such that the sigma in c+"Σ", "ΑΣ"+c, "Α"+c+"Σ" lowercases to the final form ς.
        "sigma_final_after": ranges(lambda ch: (ch + "Σ").lower()[-1] == "ς"),
        "sigma_final_before": ranges(lambda ch: ("ΑΣ" + ch).lower()[1] == "ς"),
        "sigma_final_between": ranges(lambda ch: ("Α" + ch + "Σ").lower()[-1] == "ς"),
    }
    with open(os.path.join(args.out, "unicode.json"), "w", encoding="utf-8") as f:
        json.dump(uni, f, ensure_ascii=True, separators=(",", ":"))
    print(f"unicode.json: {len(lower)} lower-case mappings", file=sys.stderr)

    # Hugging Face format of the same vocabulary.
    merges = [" ".join(pair) for pair, _ in sorted(tok.bpe_ranks.items(), key=lambda kv: kv[1])]
    with gzip.GzipFile(os.path.join(args.out, "hf", "vocab.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(tok.encoder, ensure_ascii=False).encode("utf-8"))
    with gzip.GzipFile(os.path.join(args.out, "hf", "merges.txt.gz"), "wb", mtime=0) as f:
        f.write(("#version: 0.2\n" + "\n".join(merges) + "\n").encode("utf-8"))
    print(f"hf: {len(tok.encoder)} tokens, {len(merges)} merges", file=sys.stderr)


if __name__ == "__main__":
    main()
