"""Prompts decoded with skip_special_tokens: each template family's remnants, and the learned prefix/suffix."""

from __future__ import annotations

import pytest

from sample_forge.impact.longtable import SampleRegistry, normalize_prompt
from sample_forge.impact.template import FEW_PROMPTS, learn_template, strip_role_remnants

P = "Find $x$ if $2x + 3 = 7$.\nGive an exact answer."
INSTR = " Let's think step by step and output the final answer within \\boxed{}."

# what tokenizer.batch_decode(..., skip_special_tokens=True) leaves of each family's generation prompt
DECODED = {
    "qwen2.5": f"system\nYou are a helpful assistant.\nuser\n{P}\nassistant\n",
    "qwen3-no-system": f"user\n{P}\nassistant\n",
    "qwen3-thinking-off": f"user\n{P}\nassistant\n<think>\n\n</think>\n\n",
    "chatml-multi-turn": f"system\nS.\nuser\nWhat is 1+1?\nassistant\n2\nuser\n{P}\nassistant\n",
    "llama-3.1": (
        "system\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
        f"user\n\n{P}assistant\n\n"
    ),
    "llama-3": f"user\n\n{P}assistant\n\n",
    "gemma": f"user\n{P}\nmodel\n",
    # <｜User｜>/<｜Assistant｜> are special: false, so they survive decoding
    "deepseek-r1": f"You are a helpful assistant.<｜User｜>{P}<｜Assistant｜><think>\n",
    "mistral-v0.1": f"[INST] {P} [/INST]",  # [INST] is plain text in v0.1/v0.2
    "mistral-v0.3": P,  # control tokens: nothing left around the message
}


@pytest.mark.parametrize("family", sorted(DECODED))
def test_each_family_decodes_to_the_problem(family: str) -> None:
    assert normalize_prompt(DECODED[family]) == " ".join(P.split())


def test_remnants_are_anchored_at_both_ends() -> None:
    plain = "The user\nasked: what is 2+2?\nassistant"  # mentions roles, not a decoded template
    assert strip_role_remnants(plain) == plain
    assert strip_role_remnants("system\nno user turn\nassistant\n") == "system\nno user turn\nassistant\n"


def _problems(n: int) -> list[str]:
    heads = ["Find", "Compute", "What is", "Let", "How many", "Solve"]
    return [f"{heads[i % 6]} the value {i} of $y_{i}$ when $y = {i}x$?" for i in range(n)]


def test_common_prefix_and_suffix_are_learned_over_distinct_prompts() -> None:
    probs = _problems(40)
    reg = SampleRegistry()
    for p in probs + probs[:10]:  # repeats do not count
        reg.add_prompt(f"system\nYou are a helpful assistant.\nuser\nSolve this: {p}{INSTR}\nassistant\n")
    assert reg.template.prefix == "Solve this: " and reg.template.suffix == INSTR
    assert reg.template.prompts == 40
    assert reg.problems == probs


def test_few_prompts_never_lose_a_shared_first_or_last_word() -> None:
    probs = ["What is the sum of 2 and 3?", "What is the product of 4 and 3?"]
    tpl = learn_template([f"{p}{INSTR}" for p in probs])
    assert tpl.prefix == ""  # "What is " is shared, but not a sentence the problems do not start
    assert [tpl.cut(f"{p}{INSTR}") for p in probs] == probs
    # many prompts: a word boundary is enough (problems that all begin alike are unlikely)
    assert len(_problems(FEW_PROMPTS)) == FEW_PROMPTS
    words = learn_template([f"Q: {p} A:" for p in _problems(FEW_PROMPTS)])
    assert (words.prefix, words.suffix) == ("Q: ", " A:")


def test_a_pool_with_one_problem_learns_nothing() -> None:
    reg = SampleRegistry()
    reg.add_prompt(DECODED["qwen2.5"].replace(P, P + INSTR))
    assert learn_template(reg.texts).prefix == learn_template(reg.texts).suffix == ""
    assert reg.problems == [" ".join(P.split()) + INSTR]  # the role words go; the instruction stays


def test_a_problem_ending_where_the_suffix_starts() -> None:
    probs = [*_problems(20), "Why do we say Let's think step by step and output"]
    tpl = learn_template([p + INSTR for p in probs])
    assert tpl.suffix == INSTR
    assert tpl.cut(probs[-1] + INSTR) == probs[-1]  # one suffix is cut, the problem's own words stay
    # one prompt's problem is the start of another's: prefix and suffix never overlap it
    short = learn_template(["Q: a A.", "Q: a b A."])
    assert (short.prefix, short.suffix) == ("Q: ", " A.")
    assert [short.cut("Q: a A."), short.cut("Q: a b A.")] == ["a", "a b"]


def test_cut_all_equals_cut_per_text() -> None:
    probs = _problems(40)
    tpl = learn_template([f"Q: {p}{INSTR}" for p in probs])
    assert tpl.prefix and tpl.suffix
    whole = [f"Q: {p}{INSTR}" for p in probs]
    mixed = whole + [None, "no template here", INSTR.strip(), f"Q: {INSTR}"]
    # no None and every text long enough: the mapped path, with texts that lack the prefix, the
    # suffix or both, and one whose suffix starts right after its prefix
    partial = whole + [f"Q: only a prefix, and a long problem after it {'x' * 80}", f"no prefix{INSTR}"]
    partial += [f"neither prefix nor suffix, just a long text {'y' * 80}", f"Q: a{INSTR}"]
    for texts in (whole, mixed, partial):
        assert tpl.cut_all(texts) == [None if t is None else tpl.cut(t) for t in texts]
    assert learn_template(whole, distinct=True) == tpl


def test_common_prefix_and_suffix_equal_the_reference_past_the_first_texts() -> None:
    """The candidate from the first texts is checked on all: a later text that shares less shrinks it."""
    import os
    import random

    from sample_forge.impact.template import _FIRST, _common_prefix, _common_suffix

    rng = random.Random(5)
    for _ in range(200):
        n = rng.choice([2, 5, _FIRST, _FIRST + 1, 300])
        texts = ["".join(rng.choices("ab ", k=rng.randint(0, 6))) for _ in range(n)]
        head, tail = rng.choice(["", "Q: ", "Q: a"]), rng.choice(["", " A.", "b A."])
        texts = [f"{head}{t}{tail}" for t in texts]
        if rng.random() < 0.5:  # a late text that shares less than the first ones do
            texts.insert(rng.randrange(min(n, _FIRST), n + 1), rng.choice(["Q", "x", "A.", ""]))
        assert _common_prefix(texts) == os.path.commonprefix(texts)
        assert _common_suffix(texts) == os.path.commonprefix([t[::-1] for t in texts])[::-1]
