#!/usr/bin/env python3
"""Regenerate the parity fixtures under test/fixtures/.

Reference implementation: Hugging Face transformers (LlamaForCausalLM, eager
attention), float32 on CPU.  Every random quantity comes from its own seeded
torch.Generator / numpy RandomState, so the output is deterministic and each
fixture group is independent of the order in which groups run.

Outputs (default --out test/fixtures):
  tiny-llama/config.json, tiny-llama/model.safetensors   tiny random model
  tiny-llama/tokenizer.json                              256-token byte-level tokenizer
  tiny-llama/expected.safetensors                        reference activations/grads
  tiny-llama/meta.json                                   description of every tensor
  logreg.safetensors                                     sklearn logistic regression
  dialects/<variant>-tf4/, dialects/<variant>-tf5/       config dialects: one tiny model per
      rope type (default, linear, dynamic, llama3) and an explicit head_dim, its config.json
      written by transformers 4.x (top-level rope_theta / rope_scaling) or 5.x (rope_parameters),
      expected.safetensors (logits, hidden states) and meta.json (versions, checks)

Usage:  ${POSER_PYTHON:-.venv-peer/bin/python} tools/make_fixtures.py [--out DIR]
            [--group all|tiny-llama|dialects] [--layout both|4x|5x]
        (the peer env of tools/make-peer-env.sh; --layout 4x/both rerun this script with
        its transformers 4.x copy, .venv-peer/tf4, first on PYTHONPATH)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import safetensors
import sklearn
import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from sklearn.linear_model import LogisticRegression
from transformers import LlamaConfig, LlamaForCausalLM

REPO_ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------
# Fixed settings
# ---------------------------------------------------------------------------
SEED_INIT = 1234  # model weights
SEED_BATCH = 2024  # token ids
SEED_STEER = 7  # steering vector
SEED_NOISE = 8  # per-row noise vectors
SEED_LORA = 9  # LoRA A/B
SEED_ADAPTER = 10  # MLP adapter A/B
SEED_LOGREG = 11  # logistic regression data (numpy)

MODEL_CONFIG = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    rope_theta=5000.0,
    rms_norm_eps=1e-5,
    max_position_embeddings=128,
    tie_word_embeddings=False,
    hidden_act="silu",
    attention_bias=False,
    mlp_bias=False,
    # No pad_token_id: HF would then give nn.Embedding a padding_idx (zero
    # gradient for that row).  Pad id 0 below is only a batch convention.
    pad_token_id=None,
    bos_token_id=None,
    eos_token_id=None,
    torch_dtype="float32",
)
INIT_STD = 0.15  # linear / embedding weights ~ N(0, 0.15^2)
NORM_JITTER = 0.1  # RMSNorm weights = 1 + 0.1 * N(0, 1)

ROW_LENGTHS = [7, 12, 4]
T = 12
PAD_ID = 0
ANSWER_TARGETS = [65, 66, 10]
LM_MASK_LAST = 4

GRAD_PARAMS = [
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.1.mlp.down_proj.weight",
    "model.layers.2.input_layernorm.weight",
    "model.norm.weight",
    "lm_head.weight",
]

ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
ADAMW_STEPS = 3

LORA_MODULES = ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]
LORA_RANK = 4
LORA_ALPHA = 8.0

ADAPTER_LAYER = 1
ADAPTER_RANK = 8
ADAPTER_ALPHA = 2.0

PADDED_TOL = 1e-5


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
class Store:
    """Ordered collection of tensors plus a description for each."""

    def __init__(self) -> None:
        self.tensors: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        self.desc: dict[str, str] = {}

    def add(self, name: str, tensor: torch.Tensor, description: str) -> None:
        assert name not in self.tensors, name
        self.tensors[name] = tensor.detach().clone().contiguous()
        self.desc[name] = description

    def entries(self) -> dict:
        return {
            k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "description": self.desc[k]}
            for k, v in self.tensors.items()
        }

    def save(self, path: Path) -> None:
        save_file(dict(self.tensors), str(path))


def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def get_module(model: nn.Module, dotted: str) -> nn.Module:
    mod = model
    for part in dotted.split("."):
        mod = getattr(mod, part)
    return mod


def set_module(model: nn.Module, dotted: str, new: nn.Module) -> None:
    parent, _, leaf = dotted.rpartition(".")
    setattr(get_module(model, parent), leaf, new)


def position_ids_from_mask(mask: torch.Tensor) -> torch.Tensor:
    # Left padding convention: real tokens get positions 0..L-1, pads get 0.
    return (mask.cumsum(-1) - 1).clamp(min=0)


def forward(model, batch, **kw):
    return model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
        **kw,
    )


def answer_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # Mean over rows of CE of the logits at the last position (T-1).
    return F.cross_entropy(logits[:, -1, :], targets, reduction="mean")


def lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    # Token t (loss_mask[b,t]==1) is predicted from logits[b,t-1];
    # sum of -log p over masked tokens / number of masked tokens.
    logp = F.log_softmax(logits[:, :-1, :], dim=-1)
    nll = -logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    m = loss_mask[:, 1:].to(nll.dtype)
    return (nll * m).sum() / m.sum()


def close(a: torch.Tensor, b: torch.Tensor, tol: float, what: str) -> float:
    d = (a - b).abs().max().item()
    assert d <= tol, f"{what}: max abs diff {d} > {tol}"
    return d


# ---------------------------------------------------------------------------
# 1. Model
# ---------------------------------------------------------------------------
def build_model(model_dir: Path) -> LlamaForCausalLM:
    config = LlamaConfig(**MODEL_CONFIG)
    torch.manual_seed(SEED_INIT)
    model = LlamaForCausalLM(config).to(torch.float32)
    g = gen(SEED_INIT)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + NORM_JITTER * torch.randn(p.shape, generator=g))
            else:  # every other parameter is a bias-free linear or embedding weight
                p.copy_(INIT_STD * torch.randn(p.shape, generator=g))
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(model_dir), safe_serialization=True)
    gc = model_dir / "generation_config.json"
    if gc.exists():
        gc.unlink()

    # Reload from disk so every reference below is computed from the stored file.
    loaded = LlamaForCausalLM.from_pretrained(str(model_dir), attn_implementation="eager", torch_dtype=torch.float32)
    loaded.eval()
    sd0, sd1 = model.state_dict(), loaded.state_dict()
    for k in sd0:
        assert torch.equal(sd0[k], sd1[k]), k
    assert loaded.config._attn_implementation == "eager"
    return loaded


# ---------------------------------------------------------------------------
# 2. Tokenizer
# ---------------------------------------------------------------------------
def byte_to_unicode() -> dict[int, str]:
    """The usual byte-level BPE byte->printable-character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build_tokenizer(path: Path) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    table = byte_to_unicode()
    vocab = {table[b]: b for b in range(256)}  # token id == byte value
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(path))

    # Verify: reload, every id < 256 and equal to the UTF-8 bytes, round trip.
    re = Tokenizer.from_file(str(path))
    assert re.get_vocab_size() == 256
    samples = ["Hello, world!", "  leading spaces\tand\nnewlines", "héllo wörld ✓ 日本語 🙂", "".join(map(chr, range(1, 128)))]
    for s in samples:
        ids = re.encode(s).ids
        assert all(0 <= i < 256 for i in ids)
        assert ids == list(s.encode("utf-8")), s
        assert re.decode(ids) == s
    return {"vocab_size": 256, "id_convention": "token id == UTF-8 byte value", "samples_checked": len(samples)}


# ---------------------------------------------------------------------------
# 3. Batch
# ---------------------------------------------------------------------------
def make_batch() -> dict:
    g = gen(SEED_BATCH)
    ids = torch.full((len(ROW_LENGTHS), T), PAD_ID, dtype=torch.int64)
    mask = torch.zeros((len(ROW_LENGTHS), T), dtype=torch.int64)
    for b, L in enumerate(ROW_LENGTHS):
        ids[b, T - L :] = torch.randint(1, 256, (L,), generator=g)
        mask[b, T - L :] = 1
    # lm_loss_mask: last LM_MASK_LAST real tokens, but never a row's first real
    # token (its predecessor t-1 is a pad, or does not exist).
    lm_mask = torch.zeros_like(mask)
    for b, L in enumerate(ROW_LENGTHS):
        n = min(LM_MASK_LAST, L - 1)
        lm_mask[b, T - n :] = 1
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": position_ids_from_mask(mask),
        "lm_loss_mask": lm_mask,
        "answer_targets": torch.tensor(ANSWER_TARGETS, dtype=torch.int64),
    }


# ---------------------------------------------------------------------------
# 4. Forward fixtures (logits, residual stream, layer-1 internals)
# ---------------------------------------------------------------------------
def forward_fixtures(model, batch, st: Store, info: dict) -> None:
    layers = model.model.layers
    cap: dict[str, torch.Tensor] = {}
    hooks = []

    def save_out(name, index0=True):
        def hook(_m, _inp, out):
            cap[name] = (out[0] if index0 else out).detach().clone()

        return hook

    hooks.append(model.model.embed_tokens.register_forward_hook(save_out("embed", index0=False)))
    for i, layer in enumerate(layers):
        hooks.append(layer.register_forward_hook(save_out(f"resid_post.{i}")))
    l1 = layers[1]
    hooks.append(l1.register_forward_pre_hook(lambda _m, args: cap.__setitem__("resid_pre.1", args[0].detach().clone())))
    hooks.append(l1.self_attn.register_forward_hook(save_out("attn_out.1")))
    hooks.append(l1.post_attention_layernorm.register_forward_hook(save_out("mlp_in.1", index0=False)))
    hooks.append(l1.mlp.register_forward_hook(save_out("mlp_out.1", index0=False)))

    with torch.no_grad():
        out = forward(model, batch, output_hidden_states=True)
    for h in hooks:
        h.remove()

    logits, hs = out.logits, out.hidden_states
    n_layers = len(layers)
    assert len(hs) == n_layers + 1
    # Consistency checks against HF's own hidden_states tuple.
    assert torch.equal(hs[0], cap["embed"])
    for i in range(n_layers - 1):
        assert torch.equal(hs[i + 1], cap[f"resid_post.{i}"]), i
    assert torch.equal(cap["resid_pre.1"], cap["resid_post.0"])
    resid_mid = cap["resid_pre.1"] + cap["attn_out.1"]
    close(resid_mid + cap["mlp_out.1"], cap["resid_post.1"], 1e-6, "resid_mid.1 + mlp_out.1 vs resid_post.1")

    # Sanity: each left-padded row equals the same row run alone.
    row_diffs = []
    with torch.no_grad():
        for b, L in enumerate(ROW_LENGTHS):
            ids = batch["input_ids"][b : b + 1, T - L :]
            o = model(input_ids=ids, position_ids=torch.arange(L).unsqueeze(0), use_cache=False, output_hidden_states=True)
            d = close(o.logits[0], logits[b, T - L :], PADDED_TOL, f"row {b} logits padded vs alone")
            for j, h in enumerate(o.hidden_states):
                d = max(d, close(h[0], hs[j][b, T - L :], PADDED_TOL, f"row {b} hidden_states[{j}] padded vs alone"))
            row_diffs.append(d)
    info["padded_vs_unpadded_max_abs_diff"] = max(row_diffs)

    st.add("logits", logits, "Full logits [B,T,V] of the padded batch (values at pad positions are whatever HF's masking gives; compare real positions only).")
    st.add("embed", cap["embed"], "Output of model.embed_tokens (token embeddings), = hidden_states[0].")
    for i in range(n_layers):
        st.add(f"resid_post.{i}", cap[f"resid_post.{i}"], f"Output of decoder layer {i} (forward hook on model.model.layers[{i}], output[0]); residual stream after the layer, before any final norm.")
    st.add("final_norm", hs[-1], "Last entry of output_hidden_states = model.norm(resid_post.2) (final RMSNorm output, input to lm_head).")
    st.add("attn_out.1", cap["attn_out.1"], "Layer 1 self-attention output (after o_proj, before the residual add).")
    st.add("resid_mid.1", resid_mid, "Layer 1 input (= resid_post.0) + attn_out.1: residual stream between attention and MLP.")
    st.add("mlp_in.1", cap["mlp_in.1"], "Layer 1 post_attention_layernorm(resid_mid.1): the MLP input.")
    st.add("mlp_out.1", cap["mlp_out.1"], "Layer 1 MLP output (after down_proj, before the residual add); resid_post.1 = resid_mid.1 + mlp_out.1.")
    info["_logits"] = logits  # reused for the bf16 comparison


# ---------------------------------------------------------------------------
# 5. Gradient fixtures
# ---------------------------------------------------------------------------
def grads_of(model, loss: torch.Tensor) -> dict:
    params = dict(model.named_parameters())
    model.zero_grad(set_to_none=True)
    loss.backward()
    out = {}
    for n in GRAD_PARAMS:
        g = params[n].grad
        out[n] = torch.zeros_like(params[n]) if g is None else g.detach().clone()
    model.zero_grad(set_to_none=True)
    return out


def gradient_fixtures(model, batch, st: Store, info: dict) -> None:
    m = copy.deepcopy(model)
    loss = answer_loss(forward(m, batch).logits, batch["answer_targets"])
    g = grads_of(m, loss)
    st.add("answer_loss", loss.detach().reshape(1), "Answer-token loss: mean over rows b of cross_entropy(logits[b, T-1, :], answer_targets[b]).")
    for n in GRAD_PARAMS:
        st.add(f"grad_answer.{n}", g[n], f"d(answer_loss)/d({n}).")

    loss = lm_loss(forward(m, batch).logits, batch["input_ids"], batch["lm_loss_mask"])
    g = grads_of(m, loss)
    st.add("lm_loss", loss.detach().reshape(1), "Masked causal-LM loss: sum over (b,t) with lm_loss_mask[b,t]==1 of -log_softmax(logits[b,t-1])[input_ids[b,t]], divided by lm_loss_mask.sum().")
    for n in GRAD_PARAMS:
        st.add(f"grad_lm.{n}", g[n], f"d(lm_loss)/d({n}).")
    info["answer_loss"] = st.tensors["answer_loss"].item()
    info["lm_loss"] = st.tensors["lm_loss"].item()


def adamw_fixtures(model, batch, st: Store, info: dict) -> None:
    m = copy.deepcopy(model)
    m.train()  # no dropout in this config; train/eval give identical outputs
    opt = torch.optim.AdamW(m.parameters(), **ADAMW)
    losses = []
    for _ in range(ADAMW_STEPS):
        opt.zero_grad(set_to_none=True)
        loss = answer_loss(forward(m, batch).logits, batch["answer_targets"])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    params = dict(m.named_parameters())
    st.add("adamw_losses", torch.tensor(losses, dtype=torch.float32), "answer_loss evaluated before each of the 3 AdamW steps (losses[0] == answer_loss).")
    for n in GRAD_PARAMS:
        st.add(f"adamw3.{n}", params[n], f"{n} after 3 AdamW steps on answer_loss from the initial weights.")
    info["adamw_losses"] = losses


# ---------------------------------------------------------------------------
# 6. Interventions on the residual stream
# ---------------------------------------------------------------------------
def add_to_layer_output(layer: nn.Module, fn):
    def hook(_m, _inp, out):
        return (fn(out[0]),) + tuple(out[1:])

    return layer.register_forward_hook(hook)


def run_with_capture(model, batch, capture_layer: int):
    cap = {}
    h = model.model.layers[capture_layer].register_forward_hook(lambda _m, _i, o: cap.__setitem__("x", o[0].detach().clone()))
    with torch.no_grad():
        logits = forward(model, batch).logits
    h.remove()
    return logits, cap["x"]


def steering_fixtures(model, batch, st: Store) -> None:
    v = 2.0 * torch.randn(model.config.hidden_size, generator=gen(SEED_STEER))

    def steer(h):
        h = h.clone()
        h[:, -1, :] += v
        return h

    h = add_to_layer_output(model.model.layers[1], steer)
    logits, r2 = run_with_capture(model, batch, 2)
    h.remove()
    st.add("steer_vector", v, "Steering vector (N(0,1)*2), added to the output of decoder layer 1 at position T-1 only, every row.")
    st.add("steer_logits_last", logits[:, -1, :], "Logits at position T-1 with the steering vector applied.")
    st.add("steer_resid_post.2", r2, "Output of decoder layer 2 with the steering vector applied.")


def noise_fixtures(model, batch, st: Store) -> None:
    B = batch["input_ids"].shape[0]
    noise = torch.randn(B, model.config.hidden_size, generator=gen(SEED_NOISE))
    h = add_to_layer_output(model.model.layers[0], lambda x: x + noise[:, None, :])
    logits, r2 = run_with_capture(model, batch, 2)
    h.remove()
    st.add("noise_rows", noise, "Per-row vectors (N(0,1)); row b's vector is added at every position (pads included) of the output of decoder layer 0.")
    st.add("noise_logits_last", logits[:, -1, :], "Logits at position T-1 with noise_rows applied.")
    st.add("noise_resid_post.2", r2, "Output of decoder layer 2 with noise_rows applied.")


# ---------------------------------------------------------------------------
# 7. LoRA and MLP adapter
# ---------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """out = base(x) + scale * (x @ A^T) @ B^T, A [r, in], B [out, r]."""

    def __init__(self, base: nn.Linear, A: torch.Tensor, B: torch.Tensor, scale: float):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(A.clone())
        self.B = nn.Parameter(B.clone())
        self.scale = scale

    def forward(self, x):
        return self.base(x) + self.scale * F.linear(F.linear(x, self.A), self.B)


class MLPAdapter(nn.Module):
    """out = mlp(x) + alpha * (x @ A @ B), A [hidden, r], B [r, hidden]."""

    def __init__(self, mlp: nn.Module, A: torch.Tensor, B: torch.Tensor, alpha: float):
        super().__init__()
        self.mlp = mlp
        self.A = nn.Parameter(A.clone())
        self.B = nn.Parameter(B.clone())
        self.alpha = alpha

    def forward(self, x):
        return self.mlp(x) + self.alpha * (x @ self.A @ self.B)


def lora_fixtures(model, batch, st: Store) -> None:
    m = copy.deepcopy(model)
    g = gen(SEED_LORA)
    scale = LORA_ALPHA / LORA_RANK
    for name in LORA_MODULES:
        base = get_module(m, name)
        A = 0.1 * torch.randn(LORA_RANK, base.in_features, generator=g)
        B = 0.1 * torch.randn(base.out_features, LORA_RANK, generator=g)
        set_module(m, name, LoRALinear(base, A, B, scale))
        st.add(f"lora.{name}.A", A, f"LoRA A (lora_A layout [rank, in]) for {name}, N(0,1)*0.1.")
        st.add(f"lora.{name}.B", B, f"LoRA B (lora_B layout [out, rank]) for {name}, N(0,1)*0.1.")
    with torch.no_grad():
        logits = forward(m, batch).logits
    st.add("lora_logits", logits, f"Full logits with LoRA on {', '.join(LORA_MODULES)}: out = W x + (alpha/rank) * B (A x), rank {LORA_RANK}, alpha {LORA_ALPHA:g}, scale {scale:g}.")


def mlp_adapter_fixtures(model, batch, st: Store) -> None:
    m = copy.deepcopy(model)
    g = gen(SEED_ADAPTER)
    H = m.config.hidden_size
    A = torch.randn(H, ADAPTER_RANK, generator=g)
    B = 0.01 * torch.randn(ADAPTER_RANK, H, generator=g)
    layer = m.model.layers[ADAPTER_LAYER]
    layer.mlp = MLPAdapter(layer.mlp, A, B, ADAPTER_ALPHA)
    logits = forward(m, batch).logits
    loss = answer_loss(logits, batch["answer_targets"])
    m.zero_grad(set_to_none=True)
    loss.backward()
    st.add("mlp_adapter.A", A, "MLP adapter A [hidden, 8], N(0,1).")
    st.add("mlp_adapter.B", B, "MLP adapter B [8, hidden], N(0,1)*0.01.")
    st.add("mlp_adapter_logits", logits, f"Full logits with layer {ADAPTER_LAYER}'s MLP replaced by mlp(x) + {ADAPTER_ALPHA:g} * (x @ A @ B), x = post_attention_layernorm output.")
    st.add("grad_mlp_adapter.A", layer.mlp.A.grad, "d(answer_loss)/dA with the MLP adapter in place.")
    st.add("grad_mlp_adapter.B", layer.mlp.B.grad, "d(answer_loss)/dB with the MLP adapter in place.")


# ---------------------------------------------------------------------------
# 8. bf16 guide
# ---------------------------------------------------------------------------
def bf16_guide(model, batch, fp32_logits: torch.Tensor) -> dict:
    real = batch["attention_mask"].bool()

    def diff(m):
        with torch.no_grad():
            lg = forward(m, batch).logits.float()
        d = (lg - fp32_logits).abs()[real]
        return float(d.max()), float(d.mean())

    m = copy.deepcopy(model).to(torch.bfloat16)
    plain_max, plain_mean = diff(m)
    # model.to() also casts the rotary inv_freq buffer; recompute it in fp32.
    for mod in m.modules():
        if hasattr(mod, "inv_freq"):
            hd = m.config.hidden_size // m.config.num_attention_heads
            inv = 1.0 / (m.config.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
            mod.register_buffer("inv_freq", inv, persistent=False)
    fixed_max, fixed_mean = diff(m)
    return {
        "description": "HF bf16 forward (model.to(torch.bfloat16), same batch/position_ids) vs fp32 logits, real positions only.",
        "max_abs_diff_logits": plain_max,
        "mean_abs_diff_logits": plain_mean,
        "max_abs_diff_logits_fp32_rope_freqs": fixed_max,
        "mean_abs_diff_logits_fp32_rope_freqs": fixed_mean,
        "note_fp32_rope_freqs": "same, but with the rotary inv_freq buffer recomputed in fp32 (model.to() casts it to bf16)",
        "max_abs_fp32_logit_real_positions": float(fp32_logits.abs()[real].max()),
    }


# ---------------------------------------------------------------------------
# 9. Logistic regression (independent of the model)
# ---------------------------------------------------------------------------
def logreg_fixtures(path: Path) -> dict:
    rs = np.random.RandomState(SEED_LOGREG)
    d, n_train, n_test = 16, 160, 40
    mu0 = rs.normal(0.0, 0.5, d)
    mu1 = mu0 + rs.normal(0.0, 0.35, d)  # overlapping class means

    def sample(n):
        y = np.array([i % 2 for i in range(n)], dtype=np.int64)
        rs.shuffle(y)
        X = np.where(y[:, None] == 1, mu1, mu0) + rs.normal(0.0, 1.0, (n, d))
        return X.astype(np.float64), y

    Xtr, ytr = sample(n_train)
    Xte, yte = sample(n_test)
    # l1_ratio=0.0 is the pure-L2 penalty (sklearn >= 1.8 deprecates penalty='l2').
    clf = LogisticRegression(C=1.0, l1_ratio=0.0, solver="lbfgs", tol=1e-10, max_iter=10000, fit_intercept=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(Xtr, ytr)
    pred = clf.predict(Xte).astype(np.int64)
    acc = float((pred == yte).mean())
    tensors = OrderedDict(
        [
            ("logreg.X_train", torch.from_numpy(Xtr)),
            ("logreg.y_train", torch.from_numpy(ytr)),
            ("logreg.X_test", torch.from_numpy(Xte)),
            ("logreg.y_test", torch.from_numpy(yte)),
            ("logreg.coef", torch.from_numpy(clf.coef_.reshape(-1).astype(np.float64))),
            ("logreg.intercept", torch.from_numpy(clf.intercept_.reshape(1).astype(np.float64))),
            ("logreg.pred_test", torch.from_numpy(pred)),
            ("logreg.accuracy_test", torch.tensor([acc], dtype=torch.float64)),
        ]
    )
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return {
        "file": path.name,
        "entries": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)} for k, v in tensors.items()},
        "data": "two Gaussian classes in 16-D, unit covariance, means mu0 ~ N(0,0.5^2), mu1 = mu0 + N(0,0.35^2) (numpy RandomState(11)); balanced labels, shuffled; train 160, test 40",
        "model": "sklearn LogisticRegression(C=1.0, l1_ratio=0.0 (== penalty='l2'), solver='lbfgs', tol=1e-10, max_iter=10000, fit_intercept=True)",
        "objective": "minimise 0.5*||coef||^2 + C * sum_i log(1 + exp(-s_i * (x_i.coef + intercept))), s_i = 2*y_i - 1; intercept not penalised",
        "prediction": "pred = 1 if x.coef + intercept > 0 else 0",
        "n_iter": int(clf.n_iter_[0]),
        "accuracy_test": acc,
    }


# ---------------------------------------------------------------------------
# Config dialects: rope types, explicit head_dim, 4.x and 5.x config layouts
# ---------------------------------------------------------------------------
# One small model per variant, written by the transformers that is running:
# 4.x writes top-level rope_theta / rope_scaling, 5.x writes rope_parameters.
# The 4.x copy lives in <peer venv>/tf4 (tools/make-peer-env.sh); --layout 4x
# reruns this script with it first on PYTHONPATH.
DIALECT_BASE = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    tie_word_embeddings=False,
    hidden_act="silu",
    attention_bias=False,
    mlp_bias=False,
    pad_token_id=None,
    bos_token_id=None,
    eos_token_id=None,
)
DIALECT_THETA = 5000.0
# head_dim 8: wavelengths 2*pi*theta^(2i/8) = 6.3, 53, 444, 3737 positions, so
# llama3's bands (original 64: < 16 kept, > 64 slowed, between blended) each
# hold at least one frequency.
DIALECT_VARIANTS = {
    "default": dict(rope={"rope_type": "default"}, max_positions=32, cases={"batch": [20, 13, 6]}),
    "linear": dict(rope={"rope_type": "linear", "factor": 4.0}, max_positions=64, cases={"batch": [20, 13, 6]}),
    # Within max_position_embeddings dynamic NTK is plain rope; beyond it the
    # base grows with the batch's longest sequence.
    "dynamic": dict(
        rope={"rope_type": "dynamic", "factor": 2.0}, max_positions=16, cases={"within": [16, 11, 5], "beyond": [28, 21, 9]}
    ),
    "llama3": dict(
        rope={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
        max_positions=256,
        cases={"batch": [20, 13, 6]},
    ),
    # head_dim 12 != hidden_size / heads = 8: q_proj [48, 32], o_proj [32, 48].
    "head-dim": dict(rope={"rope_type": "default"}, max_positions=32, head_dim=12, cases={"batch": [20, 13, 6]}),
}
SEED_DIALECT_BATCH = 31
DISCRIMINATION_MIN = 1e-2  # rope variants must move the logits by at least this (relative) vs plain rope


def transformers_major() -> int:
    return int(transformers.__version__.split(".")[0])


def dialect_config(variant: dict, layout: str, rope: dict | None = None) -> LlamaConfig:
    rope = dict(variant["rope"] if rope is None else rope)
    kw = dict(DIALECT_BASE, max_position_embeddings=variant["max_positions"])
    if "head_dim" in variant:
        kw["head_dim"] = variant["head_dim"]
    if layout == "5x":
        kw["rope_parameters"] = dict(rope, rope_theta=DIALECT_THETA)
    else:
        kw["rope_theta"] = DIALECT_THETA
        kw["rope_scaling"] = None if rope["rope_type"] == "default" else rope
    return LlamaConfig(**kw)


def load_pretrained(model_dir: Path) -> LlamaForCausalLM:
    dtype_kw = {"dtype": torch.float32} if transformers_major() >= 5 else {"torch_dtype": torch.float32}
    m = LlamaForCausalLM.from_pretrained(str(model_dir), attn_implementation="eager", **dtype_kw)
    return m.eval()


def dialect_batch(lengths: list[int], vocab: int, seed: int) -> dict:
    g = gen(seed)
    t = max(lengths)
    ids = torch.full((len(lengths), t), PAD_ID, dtype=torch.int64)
    mask = torch.zeros((len(lengths), t), dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, t - n :] = torch.randint(1, vocab, (n,), generator=g)
        mask[b, t - n :] = 1
    return {"input_ids": ids, "attention_mask": mask, "position_ids": position_ids_from_mask(mask)}


def real_rel_diff(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    keep = mask.bool()
    return ((a - b)[keep].abs().max() / b[keep].abs().max()).item()


def dialect_fixture(out: Path, name: str, variant: dict, layout: str) -> dict:
    model_dir = out / "dialects" / f"{name}-tf{layout[0]}"
    model_dir.mkdir(parents=True, exist_ok=True)
    config = dialect_config(variant, layout)
    model = LlamaForCausalLM(config).to(torch.float32)
    g = gen(SEED_INIT)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + NORM_JITTER * torch.randn(p.shape, generator=g))
            else:
                p.copy_(INIT_STD * torch.randn(p.shape, generator=g))
    model.save_pretrained(str(model_dir), safe_serialization=True)
    gc = model_dir / "generation_config.json"
    if gc.exists():
        gc.unlink()

    written = json.loads((model_dir / "config.json").read_text())
    if layout == "5x":
        assert "rope_parameters" in written and "rope_theta" not in written, written
    else:
        assert "rope_theta" in written and "rope_parameters" not in written, written
    if "head_dim" in variant:
        assert written["head_dim"] == variant["head_dim"], written

    # Plain rope on the same weights, to show the fixture tells rope types apart.
    plain_dir = model_dir / "_plain"
    LlamaForCausalLM(dialect_config(variant, layout, rope={"rope_type": "default"})).save_pretrained(str(plain_dir))
    plain = load_pretrained(plain_dir)
    plain.load_state_dict(model.state_dict())

    st = Store()
    checks: dict = {}
    n_layers = config.num_hidden_layers
    for i, (case, lengths) in enumerate(variant["cases"].items()):
        batch = dialect_batch(lengths, config.vocab_size, SEED_DIALECT_BATCH + i)
        # A fresh model per case: transformers' dynamic rope keeps state between calls.
        ref = load_pretrained(model_dir)
        cap = {}
        h = ref.model.layers[n_layers - 1].register_forward_hook(lambda _m, _i, o: cap.__setitem__("x", (o[0] if isinstance(o, tuple) else o).detach().clone()))
        with torch.no_grad():
            o = forward(ref, batch, output_hidden_states=True)
            p = forward(plain, batch)
        h.remove()
        assert len(o.hidden_states) == n_layers + 1
        st.add(f"{case}.input_ids", batch["input_ids"], f"Token ids [B,T], rows of real lengths {lengths}, left-padded with {PAD_ID}.")
        st.add(f"{case}.attention_mask", batch["attention_mask"], "1 on real tokens, 0 on left padding.")
        st.add(f"{case}.logits", o.logits, "Logits [B,T,V] (compare real positions only).")
        for k, hs in enumerate(o.hidden_states):
            what = "embeddings" if k == 0 else ("final RMSNorm output" if k == n_layers else f"output of decoder layer {k - 1}")
            st.add(f"{case}.hidden.{k}", hs, f"hidden_states[{k}]: {what}.")
        st.add(f"{case}.resid_post.{n_layers - 1}", cap["x"], f"Output of the last decoder layer ({n_layers - 1}), before the final norm.")
        checks[f"{case}.logits_rel_diff_vs_plain_rope"] = real_rel_diff(o.logits, p.logits, batch["attention_mask"])

    rope_type = variant["rope"]["rope_type"]
    for case, diff in checks.items():
        within = name == "dynamic" and case.startswith("within")
        if rope_type != "default" and not within:
            assert diff > DISCRIMINATION_MIN, f"{name}/{case}: rope {rope_type} barely changes the logits ({diff})"
        if within:
            assert diff == 0.0, f"{name}/{case}: dynamic rope within max_position_embeddings differs from plain rope ({diff})"
    for k, v in st.tensors.items():
        assert torch.isfinite(v.float()).all(), k
    st.save(model_dir / "expected.safetensors")
    for f in plain_dir.iterdir():
        f.unlink()
    plain_dir.rmdir()

    meta = {
        "generator": "tools/make_fixtures.py --group dialects",
        "versions": versions(),
        "layout": "transformers 4.x (top-level rope_theta, rope_scaling)" if layout == "4x" else "transformers 5.x (rope_parameters)",
        "variant": name,
        "config_written": written,
        "cases": {case: {"row_lengths": lengths, "T": max(lengths)} for case, lengths in variant["cases"].items()},
        "conventions": {
            "dtype": "float32 on CPU, attn_implementation='eager'",
            "position_ids": "(attention_mask.cumsum(-1) - 1).clamp(min=0), passed explicitly",
            "fresh_model_per_case": "each case runs on a model freshly loaded from this directory (dynamic rope in transformers keeps state between calls)",
            "init": f"linear/embedding weights N(0, {INIT_STD}^2); RMSNorm weights 1 + {NORM_JITTER}*N(0,1); torch.Generator seed {SEED_INIT}",
            "batch": f"ids uniform in [1, {DIALECT_BASE['vocab_size']}) from torch.Generator seed {SEED_DIALECT_BATCH} + case index",
        },
        "checks": checks,
        "expected": st.entries(),
    }
    (model_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {"dir": str(model_dir.relative_to(out)), **checks}


def dialect_fixtures(out: Path, layout: str) -> None:
    want = 4 if layout == "4x" else 5
    if transformers_major() != want:
        raise SystemExit(f"--layout {layout} needs transformers {want}.x, this is {transformers.__version__}")
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    for name, variant in DIALECT_VARIANTS.items():
        summary = dialect_fixture(out, name, variant, layout)
        print(json.dumps(summary))
    print(f"dialect fixtures ({layout}) written with transformers {transformers.__version__}, torch {torch.__version__}")


def rerun_with_tf4(args: argparse.Namespace) -> None:
    tf4 = os.environ.get("POSER_TF4_PATH", str(Path(sys.prefix) / "tf4"))
    if not Path(tf4, "transformers").is_dir():
        raise SystemExit(f"transformers 4.x not found in {tf4} (run tools/make-peer-env.sh or set POSER_TF4_PATH)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tf4, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--group", "dialects", "--layout", "4x", "--out", args.out]
    subprocess.run(cmd, env=env, check=True)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def versions() -> dict:
    import tokenizers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "tokenizers": tokenizers.__version__,
    }


def conventions() -> dict:
    return {
        "dtype": "float32 weights and activations on CPU; attn_implementation='eager'",
        "batch": f"3 rows with real lengths {ROW_LENGTHS}, LEFT-padded to T={T} with pad id {PAD_ID}; real ids uniform in [1,256) (torch.Generator seed {SEED_BATCH}); attention_mask 1 on real tokens",
        "position_ids": "(attention_mask.cumsum(-1) - 1).clamp(min=0), passed explicitly; real tokens of every row get 0..L-1, so each row matches the row run alone (checked to 1e-5)",
        "pad_positions": "outputs at pad positions are not meaningful (fully-masked attention rows); compare real positions only",
        "hooks": "resid_post.i = output[0] of model.model.layers[i]; hidden_states = (embed, resid_post.0, resid_post.1, final_norm)",
        "answer_loss": "mean_b CE(logits[b, T-1, :], answer_targets[b]); T-1 is every row's last real token (left padding)",
        "lm_loss": f"loss = sum_{{b,t: lm_loss_mask[b,t]=1}} -log_softmax(logits[b,t-1])[input_ids[b,t]] / sum(lm_loss_mask); lm_loss_mask marks the last min({LM_MASK_LAST}, L-1) real tokens of each row (a row's first real token is never a target because its predecessor t-1 is a pad), here {LM_MASK_LAST}+{LM_MASK_LAST}+3 = 11 tokens",
        "gradients": "plain loss.backward() of the stated loss w.r.t. the HF parameter; unused rows (e.g. embedding rows of absent ids) are 0",
        "adamw": f"torch.optim.AdamW(all params, lr={ADAMW['lr']}, betas={ADAMW['betas']}, eps={ADAMW['eps']}, weight_decay={ADAMW['weight_decay']}), amsgrad=False; per step: zero_grad, answer_loss, backward, step. torch semantics: p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)",
        "steering": "steer_vector added to output[0] of model.model.layers[1] at position T-1 only, all rows",
        "noise": "noise_rows[b] added to output[0] of model.model.layers[0] at every position (pads included) of row b",
        "lora": f"on {LORA_MODULES}: y = x W^T + (alpha/rank) * (x A^T) B^T, A [rank,in], B [out,rank] (peft lora_A/lora_B layout), rank {LORA_RANK}, alpha {LORA_ALPHA:g}, scale {LORA_ALPHA / LORA_RANK:g}",
        "mlp_adapter": f"layer {ADAPTER_LAYER}: mlp_out = mlp(x) + {ADAPTER_ALPHA:g} * (x @ A @ B), x = post_attention_layernorm output, A [64,{ADAPTER_RANK}], B [{ADAPTER_RANK},64]",
        "init": f"linear/embedding weights N(0, {INIT_STD}^2); RMSNorm weights 1 + {NORM_JITTER}*N(0,1); torch.Generator seed {SEED_INIT}, parameters in named_parameters() order",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO_ROOT / "test" / "fixtures"), help="fixtures root (default: test/fixtures)")
    ap.add_argument("--group", choices=["all", "tiny-llama", "dialects"], default="all", help="which fixtures to write")
    ap.add_argument("--layout", choices=["both", "4x", "5x"], default="both", help="config layout(s) of the dialect fixtures")
    args = ap.parse_args()

    if args.group in ("all", "dialects"):
        if args.layout in ("both", "5x"):
            dialect_fixtures(Path(args.out), "5x")
        if args.layout == "4x" and transformers_major() == 4:
            dialect_fixtures(Path(args.out), "4x")
        elif args.layout in ("both", "4x"):
            rerun_with_tf4(args)
    if args.group in ("all", "tiny-llama"):
        tiny_llama_fixtures(Path(args.out))


def tiny_llama_fixtures(out: Path) -> None:
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)

    model_dir = out / "tiny-llama"
    model_dir.mkdir(parents=True, exist_ok=True)

    model = build_model(model_dir)
    tok_info = build_tokenizer(model_dir / "tokenizer.json")
    batch = make_batch()

    st = Store()
    info: dict = {}
    st.add("input_ids", batch["input_ids"], "Token ids [B,T], left-padded with 0.")
    st.add("attention_mask", batch["attention_mask"], "1 for real tokens, 0 for left padding.")
    st.add("answer_targets", batch["answer_targets"], "Target id per row for answer_loss.")
    st.add("lm_loss_mask", batch["lm_loss_mask"], "1 on the tokens predicted in lm_loss (last min(4, L-1) real tokens of each row).")

    forward_fixtures(model, batch, st, info)
    fp32_logits = info.pop("_logits")
    gradient_fixtures(model, batch, st, info)
    adamw_fixtures(model, batch, st, info)
    steering_fixtures(model, batch, st)
    noise_fixtures(model, batch, st)
    lora_fixtures(model, batch, st)
    mlp_adapter_fixtures(model, batch, st)
    bf16 = bf16_guide(model, batch, fp32_logits)
    logreg = logreg_fixtures(out / "logreg.safetensors")

    for k, v in st.tensors.items():
        assert torch.isfinite(v.float()).all(), k
    st.save(model_dir / "expected.safetensors")

    meta = {
        "generator": "tools/make_fixtures.py",
        "versions": versions(),
        "model": {k: v for k, v in MODEL_CONFIG.items() if v is not None},
        "tokenizer": tok_info,
        "conventions": conventions(),
        "checks": {
            "padded_vs_unpadded_max_abs_diff": info["padded_vs_unpadded_max_abs_diff"],
            "padded_vs_unpadded_tolerance": PADDED_TOL,
            "answer_loss": info["answer_loss"],
            "lm_loss": info["lm_loss"],
            "adamw_losses": info["adamw_losses"],
        },
        "bf16": bf16,
        "expected": st.entries(),
        "logreg": logreg,
    }
    with open(model_dir / "meta.json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")

    # Summary
    print(f"fixtures written to {out}")
    total = 0
    for p in sorted(out.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"  {p.relative_to(out)}  {p.stat().st_size:,} B")
    print(f"  total {total:,} B")
    print(f"padded vs unpadded max abs diff: {info['padded_vs_unpadded_max_abs_diff']:.3g}")
    print(f"answer_loss {info['answer_loss']:.6f}  lm_loss {info['lm_loss']:.6f}  adamw_losses {[round(x, 6) for x in info['adamw_losses']]}")
    print(f"bf16 vs fp32 logits max abs diff: {bf16['max_abs_diff_logits']:.4g} (fp32 rope freqs: {bf16['max_abs_diff_logits_fp32_rope_freqs']:.4g})")
    print(f"logreg test accuracy {logreg['accuracy_test']:.3f} ({logreg['n_iter']} lbfgs iterations)")
    print(f"expected.safetensors: {len(st.tensors)} tensors")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))


if __name__ == "__main__":
    sys.exit(main())
