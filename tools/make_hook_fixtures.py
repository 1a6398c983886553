#!/usr/bin/env python3
"""Reference activations for the inner hook points and for generation.

Reads the committed tiny model (test/fixtures/tiny-llama, written by
make_fixtures.py) and its batch (expected.safetensors: input_ids,
attention_mask, steer_vector), and writes test/fixtures/tiny-llama/hooks.safetensors
with, from Hugging Face transformers (LlamaForCausalLM, eager attention, fp32, CPU):

  pattern.{i}        output_attentions of layer i: post-softmax [B, H, T, T]
  z.{i}              input of layer i's o_proj: per-head attention output before
                     the output projection, [B, T, H * head_dim]
  mlp_post.{i}       input of layer i's down_proj: act(gate_proj x) * up_proj x, [B, T, I]
  ln1.{i}, ln2.{i}   outputs of input_layernorm / post_attention_layernorm
  mlp_in.{i}         input of post_attention_layernorm (the residual before it)
  greedy_tokens      model.generate(do_sample=False, max_new_tokens=N) on the
                     left-padded batch: the N new tokens per row, [B, N]
  steered_tokens     the same with steer_vector added to the output of decoder
                     layer 1 at every position of every forward (prompt and
                     each generated token), [B, N]

Usage:  ${POSER_PYTHON:-.venv-peer/bin/python} tools/make_hook_fixtures.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM

FIXTURE = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "tiny-llama"
NEW_TOKENS = 8
PAD_ID = 0


def main() -> None:
    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(str(FIXTURE), attn_implementation="eager", dtype=torch.float32)
    model.eval()
    ref = load_file(str(FIXTURE / "expected.safetensors"))
    ids, mask = ref["input_ids"], ref["attention_mask"]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out: dict[str, torch.Tensor] = {}
    hooks = []

    for i, layer in enumerate(model.model.layers):
        hooks.append(layer.self_attn.o_proj.register_forward_pre_hook(lambda m, a, n=f"z.{i}": out.__setitem__(n, a[0].detach().clone())))
        hooks.append(layer.mlp.down_proj.register_forward_pre_hook(lambda m, a, n=f"mlp_post.{i}": out.__setitem__(n, a[0].detach().clone())))
        hooks.append(layer.post_attention_layernorm.register_forward_pre_hook(lambda m, a, n=f"mlp_in.{i}": out.__setitem__(n, a[0].detach().clone())))
        hooks.append(layer.input_layernorm.register_forward_hook(lambda m, a, o, n=f"ln1.{i}": out.__setitem__(n, o.detach().clone())))
        hooks.append(layer.post_attention_layernorm.register_forward_hook(lambda m, a, o, n=f"ln2.{i}": out.__setitem__(n, o.detach().clone())))
    with torch.no_grad():
        res = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False, output_attentions=True)
    for h in hooks:
        h.remove()
    for i, a in enumerate(res.attentions):
        out[f"pattern.{i}"] = a.detach().clone()
    # The forward is the one the parity fixtures describe.
    d = (res.logits - ref["logits"]).abs().masked_select(mask.bool().unsqueeze(-1)).max().item()
    assert d < 1e-5, f"logits differ from expected.safetensors by {d}"

    gen_kw = dict(max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=PAD_ID, eos_token_id=None)
    with torch.no_grad():
        greedy = model.generate(input_ids=ids, attention_mask=mask, **gen_kw)
    out["greedy_tokens"] = greedy[:, ids.shape[1]:].clone()

    v = ref["steer_vector"]

    def steer(_m, _inp, o):
        h = o[0] if isinstance(o, tuple) else o
        h = h + v
        return (h,) + tuple(o[1:]) if isinstance(o, tuple) else h

    h = model.model.layers[1].register_forward_hook(steer)
    with torch.no_grad():
        steered = model.generate(input_ids=ids, attention_mask=mask, **gen_kw)
    h.remove()
    out["steered_tokens"] = steered[:, ids.shape[1]:].clone()
    assert not torch.equal(out["steered_tokens"], out["greedy_tokens"]), "steering changed nothing: a weak test"

    save_file({k: v.contiguous() for k, v in sorted(out.items())}, str(FIXTURE / "hooks.safetensors"),
              metadata={"generator": "tools/make_hook_fixtures.py", "transformers": transformers.__version__,
                        "torch": torch.__version__})
    print(json.dumps({"greedy": out["greedy_tokens"].tolist(), "steered": out["steered_tokens"].tolist(),
                      "transformers": transformers.__version__, "torch": torch.__version__,
                      "bytes": (FIXTURE / "hooks.safetensors").stat().st_size}))


if __name__ == "__main__":
    sys.exit(main())
