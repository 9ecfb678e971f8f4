"""Synthesis of prime samples: generation, validation checks, decontamination, prime pick.

from sample_forge.synth import SynthConfig, synthesize, pick_prime
run = synthesize(SynthConfig(skills=("Algebra",), n=8, generators=("m1",), solvers=("m1", "m2")))
"""

from __future__ import annotations

from sample_forge.synth.pipeline import SynthConfig, SynthRun, resolve_skills, synthesize
from sample_forge.synth.prime import pick_prime

__all__ = ["SynthConfig", "SynthRun", "synthesize", "resolve_skills", "pick_prime"]
