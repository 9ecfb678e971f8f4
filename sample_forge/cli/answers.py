"""``sample-forge check-answer``: is a predicted answer math-equivalent to the gold one?"""

from __future__ import annotations

import sys

import click

from sample_forge.cli.common import domain_errors

__all__ = ["check_answer"]


@click.command("check-answer")
@click.argument("gold")
@click.argument("pred")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    help="Hard time limit in seconds (math-verify runs in a worker process).",
)
@domain_errors
def check_answer(gold: str, pred: str, timeout: float) -> None:
    """Check whether PRED is equivalent to GOLD with math-verify (gold first).

    Bare answers are read as LaTeX math (wrapped in $...$); a \\boxed{} in PRED is used as is.
    Prints 'equivalent' (exit 0), 'not equivalent' (exit 1), or 'undecided: <why>' (exit 2:
    unparseable or timed out).

    \b
    Examples:
      sample-forge check-answer '\\frac{\\sqrt{3}}{2}' '\\sqrt{3}/2'      # equivalent
      sample-forge check-answer '[-2,7]' 'x \\in [-2, 7]'
      sample-forge check-answer 8 'so the answer is $\\boxed{9}$'        # not equivalent
    """
    from sample_forge.answers import AnswerChecker

    with AnswerChecker(timeout=timeout, workers=1) as checker:
        v = checker.verdicts([(gold, pred)])[0]
    if v.equivalent is None:
        click.echo(f"undecided: {v.reason}")
        sys.exit(2)
    click.echo(v.reason)
    sys.exit(0 if v.equivalent else 1)
