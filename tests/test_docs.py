"""The docs stay true to the code: relative links resolve, the example recipe loads and plans, and
every `sample-forge <command>` the user guide mentions is a registered command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from sample_forge.cli.main import COMMANDS, cli
from sample_forge.forge.recipe import load_recipe
from sample_forge.forge.run import plan

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]

# [text](target) outside code; images too. Targets with a scheme or only an anchor are not files.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _links(text: str) -> list[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", text))
    return [m.group(1) for m in LINK.finditer(text)]


def _is_relative_file(target: str) -> bool:
    return not (re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")))


def test_pages_exist() -> None:
    for name in ("index.md", "user-guide.md", "formats.md"):
        assert (DOCS / name).is_file(), name
    assert (DOCS / "examples" / "recipe.toml").is_file()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if not _is_relative_file(target):
            continue
        path = target.split("#", 1)[0]
        if path and not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: broken relative links {broken}"


def test_link_finder_sees_links() -> None:
    # guards the regex: a page with a link must yield it, one in code must not
    assert _links("see [formats](formats.md#x) and `[no](nope.md)`") == ["formats.md#x"]
    assert _links("```\n[no](nope.md)\n```\n[yes](a.md)") == ["a.md"]
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert "user-guide.md" in _links(index) and "formats.md" in _links(index)


def test_example_recipe_loads_and_plans(tmp_path: Path) -> None:
    recipe = load_recipe(DOCS / "examples" / "recipe.toml")
    # the example sets something in every section, so a renamed setting fails here, not for a user
    assert recipe.pool.source.endswith("dsr_sub.jsonl")
    assert recipe.score.format == "oneshot" and recipe.score.epoch_by == "pass"
    assert recipe.select.rule == "top" and recipe.select.by == "hist_var"
    assert recipe.export.to == ("verl", "trl", "openrlhf")  # [export] is an ExportConfig: a tuple
    stages = plan(recipe, tmp_path / "run")
    names = [s.name for s in stages]
    assert names == ["pool", "tag", "score", "synthesize", "select", "export"]
    assert all(str(o).startswith(str(tmp_path / "run")) for s in stages for o in s.outputs)
    assert plan(recipe)[0].outputs[0].parts[:2] == ("runs", "pi1")


def test_user_guide_commands_are_registered() -> None:
    text = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    # commands are written as code: fenced blocks and `inline` spans (prose may say "sample-forge finds")
    code = (
        "\n".join(m.group(0) for m in FENCE.finditer(text))
        + "\n"
        + "\n".join(INLINE_CODE.findall(FENCE.sub("", text)))
    )
    uses = re.findall(r"sample-forge\s+([a-z][a-z-]*)(?:[ \t]+([a-z][a-z-]*)\b(?![./]))?", code)
    mentioned = {name for name, _ in uses}
    assert {"pool", "score", "select", "export", "forge", "report"} <= mentioned
    unknown = sorted(mentioned - set(COMMANDS))
    assert not unknown, f"docs/user-guide.md mentions unregistered commands: {unknown}"
    # a word after a command group must be one of its subcommands (`models path`, `tag calibrate`)
    ctx = click.Context(cli)
    bad = []
    for name, sub in uses:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, f"`sample-forge {name}` is registered but its module is missing"
        if sub and isinstance(cmd, click.Group) and sub not in cmd.commands:
            bad.append(f"{name} {sub}")
    assert not bad, f"docs/user-guide.md mentions unknown subcommands: {sorted(set(bad))}"


def test_user_guide_recipe_is_the_example_file() -> None:
    text = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    example = (DOCS / "examples" / "recipe.toml").read_text(encoding="utf-8")
    blocks = re.findall(r"^```toml\n(.*?)^```", text, re.S | re.M)
    assert example in blocks, "the recipe shown in docs/user-guide.md differs from docs/examples/recipe.toml"


def _command_lines(text: str) -> list[list[str]]:
    """`sample-forge ...` lines of fenced blocks (continuations joined, `$ ` and comments dropped)."""
    out = []
    for m in re.finditer(r"^(```|~~~)[^\n]*\n(.*?)^\1", text, re.S | re.M):
        for line in m.group(2).replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("sample-forge "):
                line = re.split(r"\s+#\s", line)[0].split(" && ")[0].split(" | ")[0]
                out.append(shlex.split(line)[1:])
    return out


def _parse_only(cmd: click.Command, name: str, args: list[str], parent: click.Context) -> None:
    """Parse options and count positionals like click, without running anything or touching files."""
    ctx = click.Context(cmd, info_name=name, parent=parent)
    if isinstance(cmd, click.Group):
        if args and args[0] in cmd.commands:
            _parse_only(cmd.commands[args[0]], args[0], args[1:], ctx)
        return  # a group's own options only (tag's default subcommand takes the rest)
    _, positional, _ = cmd.make_parser(ctx).parse_args(list(args))
    slots = sum(p.nargs if p.nargs > 0 else 10**6 for p in cmd.params if isinstance(p, click.Argument))
    if len(positional) > slots:
        raise click.UsageError(f"unexpected extra argument(s) {positional[slots:]}")


@pytest.mark.parametrize("page", ["user-guide.md", "formats.md", "reproduce-paper.md"])
def test_example_command_lines_parse(page: str) -> None:
    lines = [a for a in _command_lines((DOCS / page).read_text(encoding="utf-8")) if a and a[0] in COMMANDS]
    assert len(lines) >= (15 if page == "user-guide.md" else 1)
    root = click.Context(cli, info_name="sample-forge")
    bad = []
    for args in lines:
        try:
            _parse_only(cli.get_command(root, args[0]), args[0], args[1:], root)
        except click.UsageError as e:
            bad.append(f"sample-forge {' '.join(args)}: {e.format_message()}")
    assert not bad, "\n".join(bad)


def test_parse_only_rejects_bad_lines() -> None:
    root = click.Context(cli, info_name="sample-forge")
    with pytest.raises(click.UsageError, match="--threshold"):
        _parse_only(cli.get_command(root, "select"), "select", ["--threshold", "0.6"], root)
    with pytest.raises(click.UsageError, match="extra"):
        _parse_only(
            cli.get_command(root, "synthesize"),
            "synthesize",
            ["--skills", "a", "--against", "math500", "aime24", "--out", "x.jsonl"],
            root,
        )
