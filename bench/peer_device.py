"""transformers on the shapes that native/core/bench/bench_device.cpp times,
on the same device: a forward with last-position logits (logits_to_keep=1) on
the SmolLM2-135M shape (eager and sdpa attention), and a full fine-tuning step
(AdamW, every parameter, answer-token loss at the last position) on the
default zoo's organism shape. Random weights; one JSON line per measurement.

  python3 bench/peer_device.py [device] [dtype]
"""

import json
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

SMOLLM2 = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
               intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True)
ZOO = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
           intermediate_size=176, vocab_size=3000, tie_word_embeddings=True)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(device, warmup, reps, fn):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


def model_of(shape, attn, device, dtype):
    config = LlamaConfig(max_position_embeddings=2048, rms_norm_eps=1e-5, **shape)
    torch.manual_seed(0)
    return LlamaForCausalLM._from_config(config, attn_implementation=attn).to(device=device, dtype=dtype)


def main():
    device = torch.device(sys.argv[1] if len(sys.argv) > 1 else ("cuda:0" if torch.cuda.is_available() else "cpu"))
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[sys.argv[2] if len(sys.argv) > 2 else "float32"]
    meta = {"torch": torch.__version__, "transformers": transformers.__version__}
    b, t = 8, 102
    ids = torch.randint(SMOLLM2["vocab_size"], (b, t), device=device)
    mask = torch.ones_like(ids)
    for attn in ("eager", "sdpa"):
        model = model_of(SMOLLM2, attn, device, dtype).eval()
        with torch.inference_mode():
            ms = median_ms(device, 3, 20, lambda: model(ids, attention_mask=mask, use_cache=False, logits_to_keep=1))
        print(json.dumps({"case": "forward", "peer": f"transformers {attn}", "shape": "smollm2-135m-shape",
                          "device": str(device), "dtype": str(dtype), "median_ms": ms,
                          "tokens_per_s": b * t / (ms / 1000), **meta}), flush=True)
        del model
    b, t = 16, 96
    model = model_of(ZOO, "eager", device, dtype).train()
    ids = torch.randint(ZOO["vocab_size"], (b, t), device=device)
    mask = torch.ones_like(ids)
    targets = torch.randint(ZOO["vocab_size"], (b,), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids, attention_mask=mask, use_cache=False, logits_to_keep=1).logits[:, -1, :].float()
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    ms = median_ms(device, 5, 50, step)
    print(json.dumps({"case": "train_step", "peer": "transformers eager", "shape": "zoo-organism", "device": str(device),
                      "dtype": str(dtype), "median_ms": ms, **meta}), flush=True)


if __name__ == "__main__":
    main()
