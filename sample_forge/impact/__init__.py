"""Learning-impact scoring of training samples from a pilot RL run (LIMR, 1-shot RLVR)."""

from sample_forge.impact.run import ScoreConfig, ScoreResult, read_trajectory, score_run
from sample_forge.impact.scores import compute_scores, lim_scores
from sample_forge.impact.simulate import SimConfig, simulate_run

__all__ = [
    "ScoreConfig",
    "ScoreResult",
    "score_run",
    "read_trajectory",
    "compute_scores",
    "lim_scores",
    "SimConfig",
    "simulate_run",
]
