"""Pilot throughput with the built-in SmolLM2 on this machine: steps/s and rollouts/s of a real TRL GRPO
pilot (generation + reward + backward + optimizer), against a baseline measured in the same run: plain
``model.generate`` of the same number of rollouts (what sampling alone costs).

    python bench/bench_pilot.py [--problems 4] [--rollouts 4] [--prompts-per-step 2] [--max-completion-length 64]

Sizing rule for a pilot on this CPU: run time ~= steps / (steps/s) + model load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--pool", default=str(Path(__file__).resolve().parent.parent / "data" / "demo" / "pool.jsonl")
    )
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rollouts", type=int, default=4)
    ap.add_argument("--prompts-per-step", type=int, default=2)
    ap.add_argument("--max-completion-length", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()

    import torch

    from sample_forge.pilot.device import cpu_threads, pick_device
    from sample_forge.pilot.reward import build_prompt
    from sample_forge.pilot.trl_pilot import load_model, load_problems, run_pilot

    torch.set_num_threads(cpu_threads(a.threads))
    problems = load_problems(a.pool, limit=a.problems)
    choice = pick_device()

    # baseline: sampling the same rollouts with model.generate, batched per step like the pilot
    t = time.monotonic()
    lm, tok = load_model(None, choice)
    load_s = time.monotonic() - t
    tok.padding_side = "left"
    n_gen = 0
    t = time.monotonic()
    for s in range(0, len(problems), a.prompts_per_step):
        chunk = problems[s : s + a.prompts_per_step]
        texts = [
            tok.apply_chat_template(build_prompt(p["problem"]), tokenize=False, add_generation_prompt=True)
            for p in chunk
            for _ in range(a.rollouts)
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(choice.device)
        with torch.no_grad():
            lm.generate(
                **enc,
                max_new_tokens=a.max_completion_length,
                do_sample=True,
                temperature=1.0,
                pad_token_id=tok.pad_token_id,
            )
        n_gen += len(texts)
    gen_s = (time.monotonic() - t) * a.epochs
    n_gen *= a.epochs
    del lm

    with tempfile.TemporaryDirectory() as out:
        r = run_pilot(
            problems,
            None,
            a.epochs,
            a.rollouts,
            out,
            prompts_per_step=a.prompts_per_step,
            max_completion_length=a.max_completion_length,
            save_steps=0,
            threads=torch.get_num_threads(),
        )  # same threads as the baseline
    s = r.summary
    steps = s["steps_done"]
    rollouts = steps * s["prompts_per_step"] * s["rollouts"]
    gen_steps = n_gen / (s["prompts_per_step"] * s["rollouts"])
    print(
        f"\nSmolLM2-135M-Instruct pilot on {choice.device}/{choice.dtype}, torch threads {torch.get_num_threads()}, "
        f"{s['n_samples']} problems x {s['epochs']} epochs x {s['rollouts']} rollouts, "
        f"{s['prompts_per_step']} prompts/step, max {s['max_completion_length']} tokens, load avg "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"{'what':<36}{'steps':>7}{'rollouts':>10}{'seconds':>10}{'steps/s':>10}{'rollouts/s':>12}")
    print(
        f"{'model.generate only (baseline)':<36}{gen_steps:>7.0f}{n_gen:>10}{gen_s:>10.1f}"
        f"{gen_steps / gen_s:>10.4f}{n_gen / gen_s:>12.3f}"
    )
    print(
        f"{'TRL GRPO pilot (gen+reward+train)':<36}{steps:>7}{rollouts:>10}{s['runtime_s']:>10.1f}"
        f"{s['steps_per_s']:>10.4f}{s['rollouts_per_s']:>12.3f}"
    )
    print(
        f"pilot / generate-only throughput ratio: {s['rollouts_per_s'] / (n_gen / gen_s):.2f}  "
        f"(model load {load_s:.1f}s, not counted)"
    )
    print(f"epoch accuracy: {s['epoch_accuracy']}")


if __name__ == "__main__":
    main()
