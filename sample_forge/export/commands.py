"""Ready trainer command lines with the polymath-learning paper's settings (Li et al. 2026: batch 128
prompts, 16 rollouts each, temperature 1.0, lr 1e-6, max response 2048 tokens, no KL, 140 steps) as a
starting point. Option names follow each trainer's own examples (verl ``main_ppo`` Hydra overrides,
``trl grpo``, OpenRLHF ``train_ppo_ray``, slime ``train.py``); each trainer's line is in its module
under ``export/trainers/``."""

from __future__ import annotations

from pathlib import Path

from sample_forge.export.trainers import TRAINERS, Dataset, PaperSettings, get_trainer

__all__ = ["PaperSettings", "trainer_command", "TRAINERS"]


def trainer_command(
    trainer: str,
    data: Path,
    s: PaperSettings = PaperSettings(),
    *,
    rows: int | None = None,
    run: str = "grpo",
) -> str:
    """The command line for ``trainer`` reading ``data`` (the exported file, or TRL's directory) of
    ``rows`` rows (default: one sample filling one batch) for the paper's step count."""
    return get_trainer(trainer).command(Dataset(Path(data), s.batch if rows is None else rows, run), s)
