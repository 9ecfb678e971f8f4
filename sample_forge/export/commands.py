"""Ready trainer command lines with the polymath-learning paper's settings (Li et al. 2026: batch 128
prompts, 16 rollouts each, temperature 1.0, lr 1e-6, max response 2048 tokens, no KL, 140 steps) as a
starting point. Option names follow each trainer's own examples (verl ``main_ppo`` Hydra overrides,
``trl grpo``, OpenRLHF ``train_ppo_ray``, slime ``train.py``)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PaperSettings", "trainer_command", "TRAINERS"]

TRAINERS = ("verl", "trl", "openrlhf", "slime", "roll")


@dataclass(frozen=True)
class PaperSettings:
    """GRPO settings of the paper (one sample copied ``batch`` times into the batch)."""

    model: str = "Qwen/Qwen2.5-7B"
    batch: int = 128
    rollouts: int = 16
    temperature: float = 1.0
    lr: float = 1e-6
    max_response: int = 2048
    max_prompt: int = 1024
    steps: int = 140
    gpus: int = 8


def _join(head: str, args: list[str]) -> str:
    return " \\\n  ".join([head, *args])


def trainer_command(trainer: str, data: Path, s: PaperSettings = PaperSettings()) -> str:
    """The command line for ``trainer`` reading ``data`` (the exported file, or TRL's directory)."""
    q = shlex.quote
    d = q(str(data))
    completions = s.batch * s.rollouts
    if trainer == "verl":
        return _join(
            "python3 -m verl.trainer.main_ppo",
            [
                "algorithm.adv_estimator=grpo",
                f"data.train_files={d}",
                f"data.val_files={d}",
                f"data.train_batch_size={s.batch}",
                f"data.max_prompt_length={s.max_prompt}",
                f"data.max_response_length={s.max_response}",
                f"actor_rollout_ref.model.path={q(s.model)}",
                f"actor_rollout_ref.actor.optim.lr={s.lr:g}",
                f"actor_rollout_ref.actor.ppo_mini_batch_size={s.batch}",
                "actor_rollout_ref.actor.use_kl_loss=False",
                "actor_rollout_ref.actor.kl_loss_coef=0.0",
                "actor_rollout_ref.actor.entropy_coeff=0",
                "algorithm.use_kl_in_reward=False",
                f"actor_rollout_ref.rollout.n={s.rollouts}",
                f"actor_rollout_ref.rollout.temperature={s.temperature:g}",
                f"trainer.total_training_steps={s.steps}",
                f"trainer.n_gpus_per_node={s.gpus}",
                "trainer.nnodes=1",
            ],
        )
    if trainer == "trl":
        # one optimizer step = batch prompts x rollouts completions (divide grad accumulation by #GPUs)
        return _join(
            "trl grpo",
            [
                f"--model_name_or_path {q(s.model)}",
                f"--dataset_name {d}",
                "--reward_funcs accuracy_reward",
                f"--num_generations {s.rollouts}",
                f"--per_device_train_batch_size {s.rollouts}",
                f"--gradient_accumulation_steps {completions // s.rollouts}",
                f"--temperature {s.temperature:g}",
                f"--learning_rate {s.lr:g}",
                f"--max_completion_length {s.max_response}",
                "--beta 0.0",
                f"--max_steps {s.steps}",
                "--output_dir runs/trl-grpo",
            ],
        )
    if trainer == "openrlhf":
        return _join(
            "python3 -m openrlhf.cli.train_ppo_ray",
            [
                f"--pretrain {q(s.model)}",
                f"--prompt_data {d}",
                "--input_key input",
                "--label_key label",
                "--apply_chat_template",
                "--advantage_estimator group_norm",
                f"--n_samples_per_prompt {s.rollouts}",
                f"--rollout_batch_size {s.batch}",
                f"--train_batch_size {completions}",
                f"--temperature {s.temperature:g}",
                f"--actor_learning_rate {s.lr:g}",
                f"--generate_max_len {s.max_response}",
                f"--prompt_max_len {s.max_prompt}",
                "--init_kl_coef 0",
                f"--remote_rm_url {q(str(Path(data).with_name('reward_func.py')))}",
                f"--num_episodes {s.steps}",
                "--max_epochs 1",
                f"--actor_num_gpus_per_node {s.gpus}",
                "--save_path runs/openrlhf-grpo",
            ],
        )
    if trainer == "slime":
        return _join(
            "python3 train.py",
            [
                f"--hf-checkpoint {q(s.model)}",
                f"--prompt-data {d}",
                "--input-key input",
                "--label-key label",
                "--apply-chat-template",
                "--rm-type math",
                "--advantage-estimator grpo",
                f"--num-rollout {s.steps}",
                f"--rollout-batch-size {s.batch}",
                f"--n-samples-per-prompt {s.rollouts}",
                f"--rollout-temperature {s.temperature:g}",
                f"--rollout-max-response-len {s.max_response}",
                f"--global-batch-size {completions}",
                f"--lr {s.lr:g}",
                "--kl-coef 0.00",
                "--entropy-coef 0.00",
            ],
        )
    if trainer == "roll":
        return _join(
            "python3 examples/start_rlvr_pipeline.py --config_path YOUR_CONFIG_DIR "
            "--config_name YOUR_RLVR_CONFIG",
            [
                f"pretrain={q(s.model)}",
                f"actor_train.data_args.file_name={d}",
                "adv_estimator=grpo",
                f"rollout_batch_size={s.batch}",
                f"num_return_sequences_in_group={s.rollouts}",
                f"actor_infer.generating_args.temperature={s.temperature:g}",
                f"actor_infer.generating_args.max_new_tokens={s.max_response}",
                f"actor_train.training_args.learning_rate={s.lr:g}",
                "init_kl_coef=0.0",
                f"max_steps={s.steps}",
            ],
        )
    raise ValueError(f"unknown trainer {trainer}")
