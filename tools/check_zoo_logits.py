#!/usr/bin/env python3
"""Check that a zoo model gives the same logits in Hugging Face transformers as in poser-torch.

Usage:
  npx poser zoo check-logits --zoo models/zoo --out /tmp/zoo-logits.json
  /opt/poser-py/bin/python tools/check_zoo_logits.py /tmp/zoo-logits.json [--tol 1e-4]

The JSON (written by `poser zoo check-logits`) names the model directory and
holds, per prompt, its token ids and the last-position logits poser-torch
computed (the prompts run there as one left-padded batch). This script loads
the directory with `LlamaForCausalLM.from_pretrained` (float32, CPU, eager
attention), runs each prompt alone (no padding), and compares the logits.
It also checks that the tokenizer.json in the directory gives the same ids
(Python `tokenizers`) and that both pick the same answer among A / B / error.
Prints the maximum absolute difference; exits 1 when it exceeds --tol.
"""
import argparse
import json
import os
import sys

import torch
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logits_json")
    ap.add_argument("--tol", type=float, default=1e-4, help="maximum allowed absolute difference (default 1e-4)")
    ap.add_argument("--model-dir", help="override the model directory named in the JSON")
    args = ap.parse_args()

    with open(args.logits_json, encoding="utf-8") as f:
        ref = json.load(f)
    model_dir = args.model_dir or ref["model_dir"]
    if not os.path.isabs(model_dir) and not os.path.isdir(model_dir):
        model_dir = os.path.join(os.path.dirname(os.path.abspath(args.logits_json)), model_dir)

    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    answer_ids = [tok.token_to_id(t) for t in ("A", "B", "error")]

    worst = 0.0
    scale = 0.0
    id_mismatch = 0
    pick_mismatch = 0
    for i, (prompt, ids, expected) in enumerate(zip(ref["prompts"], ref["ids"], ref["logits"])):
        py_ids = tok.encode(prompt, add_special_tokens=False).ids
        if py_ids != ids:
            id_mismatch += 1
            print(f"prompt {i}: Python tokenizers gives other ids than poser-torch")
        with torch.no_grad():
            out = model(torch.tensor([ids], dtype=torch.long)).logits[0, -1].to(torch.float64)
        exp = torch.tensor(expected, dtype=torch.float64)
        diff = (out - exp).abs().max().item()
        worst = max(worst, diff)
        scale = max(scale, exp.abs().max().item())
        if int(out[answer_ids].argmax()) != int(exp[answer_ids].argmax()):
            pick_mismatch += 1
        print(f"prompt {i}: {len(ids)} tokens, max |diff| {diff:.3e}")
    n = len(ref["prompts"])
    print(f"{n} prompts, model {model_dir}: max |logit diff| {worst:.3e} (max |logit| {scale:.2f}, relative {worst / (scale or 1):.2e}); "
          f"token ids identical for {n - id_mismatch}/{n}; same answer for {n - pick_mismatch}/{n}")
    ok = worst <= args.tol and id_mismatch == 0 and pick_mismatch == 0
    print("OK" if ok else f"FAILED (tolerance {args.tol})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
