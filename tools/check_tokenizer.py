#!/usr/bin/env python3
"""Cross-check a tokenizer.json between @huggingface/tokenizers (JS) and Python `tokenizers`.

Usage:
  python tools/check_tokenizer.py TOKENIZER_JSON SAMPLES_JSON

SAMPLES_JSON is a list of {"text": str, "ids": [int, ...]} where the ids were
produced by the JS tokenizer (see test/tokenizer). The script encodes each text
with Python `tokenizers` (no special tokens added), compares the ids, checks
that decoding gives the text back, and exits 1 on any difference.
"""
import json
import sys

from tokenizers import Tokenizer


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    tok = Tokenizer.from_file(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        samples = json.load(f)
    bad = 0
    for i, s in enumerate(samples):
        ids = tok.encode(s["text"], add_special_tokens=False).ids
        if ids != s["ids"]:
            bad += 1
            print(f"sample {i}: ids differ\n  python: {ids}\n  js:     {s['ids']}")
            continue
        back = tok.decode(ids, skip_special_tokens=False)
        if back != s["text"]:
            bad += 1
            print(f"sample {i}: decode differs: {back!r} != {s['text']!r}")
    print(f"{len(samples) - bad}/{len(samples)} samples identical (vocab size {tok.get_vocab_size()})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
