"""``sample-forge report RUN_DIR``."""

from __future__ import annotations

import click

from sample_forge.cli.common import domain_errors, out_option, quiet_option, renamed_option, theta_option


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@out_option(help="HTML file (default RUN_DIR/report.html).")
@click.option("--png", "png_dir", type=click.Path(file_okay=False), help="Also save the figures here.")
@theta_option(default=0.6, help="LIM line (theta) in the histogram.")
@renamed_option("--theta", "theta", "--threshold", type=float)
@quiet_option
@domain_errors
def report(run_dir: str, out: str | None, png_dir: str | None, theta: float, quiet: bool) -> None:  # noqa: ARG001
    """Write one self-contained HTML report of a forge run: a summary on top (the chosen sample, rule,
    reason, confidence, the pilot's signal, warnings, what to do next), the stages in words, the
    chosen samples, every synthetic candidate's checks, learning curves with intervals, the chosen
    samples' skill spectrum against the pool's, score distributions, and the export (manifest and
    trainer command lines folded away).

    \b
    Example:
      sample-forge report runs/forge --png runs/forge/figures
    """
    from sample_forge.report import build_report

    path = build_report(run_dir, out, png_dir=png_dir, threshold=theta)
    click.echo(str(path))
