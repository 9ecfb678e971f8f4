"""Skill names as a user types them (``--skills algebra,logic``, a recipe's ``skills``) resolved to the
catalog's names and categories."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from sample_forge.errors import SampleForgeError
from sample_forge.skills.catalog import GROUPS, Catalog, load_catalog

__all__ = ["resolve_skills"]


def resolve_skills(
    names: Sequence[str],
    catalog: Catalog | None = None,
    *,
    on_alias: Callable[[str], None] | None = None,
) -> list[str]:
    """Catalog skill names or categories, case-insensitive; a unique word-prefix of a skill name
    (``logic`` → ``logical reasoning``) is accepted, and ``on_alias`` gets one line saying so
    (``skill 'logic' -> 'logical reasoning' (catalog alias)``) so the mapping is never silent.
    Unknown names are an error listing close matches."""
    catalog = catalog if catalog is not None else load_catalog()
    groups = {g.lower(): g for g in GROUPS}
    groups.update({g.replace(" ", "_"): v for g, v in list(groups.items())})
    skills = {s.name.lower(): s.name for s in catalog.skills}
    out: list[str] = []
    for raw in names:
        v = raw.strip().lower()
        if not v:
            continue
        if v in groups:
            out.append(groups[v])
        elif v in skills:
            out.append(skills[v])
        else:
            pref = [s for k, s in skills.items() if k.startswith(v)]
            if len(pref) == 1:
                out.append(pref[0])
                if on_alias is not None:
                    on_alias(f"skill '{raw.strip()}' -> '{pref[0]}' (catalog alias)")
                continue
            if len(pref) > 1:
                raise SampleForgeError(f"skill '{raw}' is ambiguous: {', '.join(pref[:6])}")
            close = difflib.get_close_matches(v, [*groups.values(), *skills.values()], n=5, cutoff=0.5)
            # a typo of one word of a longer name ("logc" for "logical reasoning") matches by word
            words = {w: s for k, s in skills.items() for w in k.split()}
            close += [words[w] for w in difflib.get_close_matches(v, list(words), n=5, cutoff=0.6)]
            close = list(dict.fromkeys(close))[:5]
            hint = f"; close matches: {', '.join(close)}" if close else "; see `sample-forge skills`"
            raise SampleForgeError(f"unknown skill '{raw}'{hint}")
    return list(dict.fromkeys(out))
