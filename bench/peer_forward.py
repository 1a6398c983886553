"""Hugging Face transformers peer for the poser-torch benchmarks.

  gen    --dir D --hidden H --layers L --heads N --kv-heads K --intermediate I
         --vocab V [--max-pos P] [--seed S]
         A LlamaForCausalLM with random weights (the library's own init),
         saved with save_pretrained as safetensors; prints one JSON line.

  serve  --dir D --ids FILE --batch B --length T [--threads N]
         Loads D in float32 with eager attention (and sdpa where this torch
         has it) and the B*T int32 token ids of FILE, prints a JSON "ready"
         line, then answers one JSON command per stdin line with one JSON line:
           {"cmd": "time", "attn": "eager", "n": 5, "last": true}  -> {"times": [...]}
               n runs of model(input_ids, attention_mask) under
               torch.inference_mode() (no padding); "last": logits at the
               last position only (logits_to_keep=1, as a user scoring
               answers would call it), else at every position
           {"cmd": "gemm", "n": 1024, "reps": 20}  -> {"gflops": x}
               best fp32 n x n matrix-product rate of this torch (the
               machine's practical peak, measured in the same run)
           {"cmd": "logits", "attn": "eager", "path": P}  -> last-position
               logits [B, V] written to P as float32
           {"cmd": "profile", "attn": "eager"}  -> torch.profiler self CPU
               time of one forward, grouped by kind of op
           {"cmd": "quit"}
         Serving both sides from live processes lets the benchmark interleave
         their measurements, so a change in machine load hits both alike.
"""

import argparse
import json
import os
import sys
import time


def build_parser():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--dir", required=True)
    g.add_argument("--hidden", type=int, required=True)
    g.add_argument("--layers", type=int, required=True)
    g.add_argument("--heads", type=int, required=True)
    g.add_argument("--kv-heads", type=int, required=True)
    g.add_argument("--intermediate", type=int, required=True)
    g.add_argument("--vocab", type=int, required=True)
    g.add_argument("--max-pos", type=int, default=512)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--tied", action="store_true")
    f = sub.add_parser("serve")
    f.add_argument("--dir", required=True)
    f.add_argument("--ids", required=True)
    f.add_argument("--batch", type=int, required=True)
    f.add_argument("--length", type=int, required=True)
    f.add_argument("--threads", type=int, default=0)
    return p


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def gen(args):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(args.seed)
    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=args.max_pos,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=args.tied,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config).eval()
    os.makedirs(args.dir, exist_ok=True)
    model.save_pretrained(args.dir, safe_serialization=True)
    emit({"dir": args.dir, "parameters": sum(p.numel() for p in model.parameters())})


# Profiler op names grouped into the categories the benchmark prints; the rest
# is "other". aten::mm is every linear layer (3-D inputs fold to one matrix
# product), aten::bmm the two attention products.
GROUPS = [
    ("linear layers (mm)", ("aten::mm", "aten::addmm")),
    ("attention products (bmm)", ("aten::bmm", "aten::baddbmm")),
    ("softmax and mask", ("aten::_softmax", "aten::softmax", "aten::masked_fill_", "aten::masked_fill", "aten::triu",
                          "aten::eq", "aten::where")),
    ("elementwise (norms, RoPE, SiLU, residual adds)", ("aten::mul", "aten::add", "aten::silu", "aten::pow", "aten::mean",
                                                        "aten::sum", "aten::rsqrt", "aten::neg", "aten::cat",
                                                        "aten::cos", "aten::sin", "aten::div", "aten::sub", "aten::div_",
                                                        "aten::add_", "aten::mul_")),
    ("copies (contiguous, repeat_kv, to)", ("aten::copy_", "aten::clone", "aten::_to_copy", "aten::index_select",
                                            "aten::embedding")),
]


def serve(args):
    import numpy as np
    import torch
    import transformers
    from transformers import LlamaForCausalLM

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    ids = np.fromfile(args.ids, dtype=np.int32)
    if ids.size != args.batch * args.length:
        raise SystemExit(f"{args.ids}: {ids.size} ids, expected {args.batch} x {args.length}")
    input_ids = torch.from_numpy(ids.astype(np.int64)).view(args.batch, args.length)
    attention_mask = torch.ones_like(input_ids)
    models, unavailable = {}, {}
    for attn in ("eager", "sdpa"):
        try:
            models[attn] = LlamaForCausalLM.from_pretrained(args.dir, torch_dtype=torch.float32,
                                                            attn_implementation=attn).eval()
        except (ValueError, ImportError) as error:  # sdpa needs torch >= 2.1.1 in this transformers
            unavailable[attn] = str(error).splitlines()[0]
    import inspect

    keep_arg = "logits_to_keep" if "logits_to_keep" in inspect.signature(models["eager"].forward).parameters else None

    emit({
        "ready": True,
        "last_only": keep_arg is not None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "available": sorted(models),
        "unavailable": unavailable,
        "parameters": sum(p.numel() for p in models["eager"].parameters()),
    })

    def run(attn, last=False):
        kwargs = {keep_arg: 1} if last and keep_arg else {}
        return models[attn](input_ids, attention_mask=attention_mask, use_cache=False, **kwargs)

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "quit":
            break
        with torch.inference_mode():
            if cmd == "time":
                times = []
                for _ in range(int(req.get("n", 1))):
                    start = time.perf_counter()
                    run(req["attn"], bool(req.get("last")))
                    times.append(time.perf_counter() - start)
                emit({"times": times})
            elif cmd == "gemm":
                n, reps = int(req.get("n", 1024)), int(req.get("reps", 20))
                a, b = torch.randn(n, n), torch.randn(n, n)
                for _ in range(3):
                    a @ b
                best = float("inf")
                for _ in range(reps):
                    start = time.perf_counter()
                    a @ b
                    best = min(best, time.perf_counter() - start)
                emit({"gflops": 2 * n ** 3 / best / 1e9})
            elif cmd == "logits":
                logits = run(req["attn"]).logits
                logits[:, -1, :].contiguous().float().numpy().tofile(req["path"])
                emit({"shape": list(logits.shape)})
            elif cmd == "profile":
                from torch.profiler import ProfilerActivity, profile

                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    run(req["attn"])
                groups = {name: 0.0 for name, _ in GROUPS}
                groups["other"] = 0.0
                calls = 0
                for evt in prof.key_averages():
                    calls += evt.count
                    name = next((n for n, keys in GROUPS if evt.key in keys), "other")
                    groups[name] += evt.self_cpu_time_total / 1e6
                emit({"groups": groups, "calls": calls})
            else:
                emit({"error": f"unknown command {cmd}"})


def main():
    args = build_parser().parse_args()
    {"gen": gen, "serve": serve}[args.cmd](args)


if __name__ == "__main__":
    main()
