"""The training loop: phases, optimizer, checkpoints, evaluation, DDP.

Outputs in ``out``: ``last.pt`` (resumable state, every ``save_every`` minutes, at each phase end
and at the end), ``model.pth`` (the float model in the official layout, written with each
``last.pt``), ``train.log`` and ``evals.jsonl`` (one line per evaluation: step, CPU-time,
phase size, pool and held-out scores). Only rank 0 writes.

Scenes come from a fixed pool that grows in stages (``pool``, e.g. ``(8, 32, 128, 0)``, 0 being
fresh scenes every step): each evaluation scores the current pool at the phase's size, and when
both its point and box mIoU reach ``grow_at`` the next stage starts.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from ...checkpoints import CheckpointError, load_checkpoint, save_official_layout
from ...modeling import Sam, get_config
from . import distributed
from .checkpointing import TrainState, load_state, save_state
from .data import CALIBRATION_STREAM, BatchRecipe, make_batch, training_sample
from .evaluation import evaluate, evaluate_pool
from .log import TrainLog
from .models import calibrate_batchnorm, init_encoder_weights, init_prompt_locality, trainable_parameters
from .objective import DistillWeights, SamObjective
from .schedule import Phase, learning_rate, parse_resolutions, phase_at, plan_phases

CALIBRATION_IMAGES = 32
POOL_EVAL_SCENES = 16  # a larger pool is scored on its first scenes


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run (the CLI's arguments); stored in each checkpoint."""

    out: Path
    config: str = "tinysam"
    steps: int = 1860
    batch_size: int = 2
    prompts: int = 24
    resolution: str = "256:0.8,512:0.17,1024"
    lr: float = 8e-4
    weight_decay: float = 0.01
    warmup: int = 100
    clip: float = 1.0
    max_rounds: int = 1
    crop_prob: float = 0.5
    seed: int = 0
    threads: int = 2
    save_every: float = 10.0
    eval_every: float = 0.0
    eval_objects: int = 40
    log_every: int = 10
    init: str | None = None
    teacher: str | None = None
    distill_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    pool: tuple[int, ...] = (0,)
    grow_at: float = 0.9
    mask_loss: str = "bce"
    locality_init: bool = True
    resume: bool = False

    def plain(self) -> dict[str, object]:
        """The settings as plain values (what a ``weights_only`` checkpoint can hold)."""
        out = dataclasses.asdict(self)
        out["out"] = str(self.out)
        out["distill_weights"] = list(self.distill_weights)
        out["pool"] = list(self.pool)
        return out


def fresh_model(config: str, seed: int, locality_init: bool = True) -> Sam:
    """A model initialised for training from scratch (seeded; the global RNG is untouched), with
    the decoder's prompt-locality start (:func:`~.models.init_prompt_locality`) unless told not."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Sam(get_config(config))
        if locality_init:
            init_prompt_locality(model)
    init_encoder_weights(model, seed)
    return model


class Trainer:
    """Runs :class:`TrainConfig` in this process (one rank of a DDP job under ``torchrun``)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.ctx = distributed.setup()
        torch.set_num_threads(cfg.threads)
        self.phases = plan_phases(parse_resolutions(cfg.resolution), cfg.steps, cfg.batch_size, cfg.prompts)
        self.log = TrainLog(cfg.out / "train.log" if self.ctx.is_main else None, cfg.log_every)
        self.last_path = cfg.out / "last.pt"
        model_config = get_config(cfg.config)
        teacher = (
            load_checkpoint(cfg.teacher, model_config).model.to(self.ctx.device) if cfg.teacher else None
        )
        self.model = (
            load_checkpoint(cfg.init, model_config).model
            if cfg.init
            else fresh_model(cfg.config, cfg.seed, cfg.locality_init)
        )
        self.objective = SamObjective(
            self.model, teacher, DistillWeights(*cfg.distill_weights), cfg.mask_loss
        ).to(self.ctx.device)
        self.params = trainable_parameters(self.model)
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.step, self.elapsed, self.pool_stage = 0, 0.0, 0
        if cfg.resume:
            self._resume()
        elif cfg.init is None:
            self._calibrate()
        self.wrapped: torch.nn.Module = self.objective
        if self.ctx.world > 1:
            device_ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            # Prompt kinds and correction rounds differ between steps and ranks, so some
            # parameters (box-corner embeddings, the mask-input branch) are unused in a step.
            # Buffers are frozen (BatchNorm statistics) and identical: synced once, at init.
            self.wrapped = DistributedDataParallel(
                self.objective, device_ids=device_ids, find_unused_parameters=True, forward_sync_buffers=False
            )

    def _resume(self) -> None:
        try:
            state = load_state(self.last_path)
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        if state.config != self.cfg.config:
            raise CheckpointError(f"{self.last_path} is a {state.config} run, not {self.cfg.config}")
        changed = {k: (v, state.args.get(k)) for k, v in self.cfg.plain().items() if state.args.get(k) != v}
        changed.pop("resume", None)
        if changed:
            self.log.event(
                "resuming with changed settings: "
                + ", ".join(f"{k} {o!r} -> {n!r}" for k, (n, o) in changed.items())
            )
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        torch.set_rng_state(state.rng["torch"])
        self.step, self.elapsed = state.step, state.elapsed
        self.pool_stage = min(state.pool_stage, len(self.cfg.pool) - 1)
        self.log.event(f"resumed from {self.last_path} at step {self.step}, pool {self.pool}")

    def _calibrate(self) -> None:
        """From scratch: BatchNorm statistics from generated images at the first phase's size."""
        size = self.phases[0].size
        images = [
            training_sample(self.cfg.seed, (i,), size, self.cfg.crop_prob, CALIBRATION_STREAM).image
            for i in range(CALIBRATION_IMAGES)
        ]
        batches = [torch.stack(images[i : i + 4]).to(self.ctx.device) for i in range(0, len(images), 4)]
        calibrate_batchnorm(self.objective.views.at(size), batches)

    @property
    def pool(self) -> int:
        """Scenes in the current pool (0: fresh scenes every step)."""
        return self.cfg.pool[self.pool_stage]

    def recipe(self, phase: Phase) -> BatchRecipe:
        return BatchRecipe(
            phase.images,
            phase.prompts,
            crop_prob=self.cfg.crop_prob if phase.size < 1024 else 0.0,
            max_rounds=self.cfg.max_rounds,
        )

    def train_step(self) -> dict[str, float]:
        """One optimisation step at ``self.step``; returns its metrics."""
        phase = phase_at(self.phases, self.step)
        batch = make_batch(self.cfg.seed, self.step, self.ctx.rank, phase.size, self.recipe(phase), self.pool)
        lr = learning_rate(self.step, self.cfg.steps, self.cfg.lr, self.cfg.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.wrapped(batch.to(self.ctx.device))
        losses["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip)
        self.optimizer.step()
        self.step += 1
        metrics = {k: float(v.detach()) for k, v in losses.items()}
        metrics["gnorm"] = float(grad_norm)
        if not math.isfinite(metrics["loss"]):
            raise FloatingPointError(f"loss is {metrics['loss']} at step {self.step}")
        return metrics

    def save(self) -> None:
        if not self.ctx.is_main:
            return
        state = TrainState(
            self.cfg.config,
            self.model.state_dict(),
            self.optimizer.state_dict(),
            self.step,
            {"torch": torch.get_rng_state()},
            self.cfg.plain(),
            self.elapsed,
            self.pool_stage,
        )
        save_state(state, self.last_path)
        save_official_layout(self.model, self.cfg.out / "model.pth")

    def run_eval(self) -> None:
        """Score the current pool at the phase's size and at 1024 and the held-out scenes at 1024;
        log them, append them to ``evals.jsonl`` and grow the pool when it is fitted. Every rank
        takes the same growth decision (rank 0 scores, the verdict is broadcast)."""
        grow = torch.zeros(1, device=self.ctx.device)
        if self.ctx.is_main:
            started = time.perf_counter()
            size = phase_at(self.phases, max(self.step - 1, 0)).size
            # Scored on the CPU (what inference runs), in eval mode; training mode comes back with
            # the next step.
            model = self.model if self.ctx.device.type == "cpu" else copy.deepcopy(self.model).cpu()
            record: dict[str, object] = {
                "step": self.step,
                "wall_hours": self.elapsed / 3600,  # training steps only, on this process's threads
                "threads": self.cfg.threads,
                "size": size,
            }
            pool = self.pool
            if pool:
                scenes = min(pool, POOL_EVAL_SCENES)
                fitted = evaluate_pool(model, scenes, size)
                record["pool"] = {"scenes": pool, "scored": scenes, **fitted.as_dict()}
                self.log.event(f"step {self.step}: pool {pool} @{size}: {fitted.summary()}")
                if size != model.img_size:
                    full = evaluate_pool(model, scenes)
                    record["pool_full_size"] = full.as_dict()
                    self.log.event(f"step {self.step}: pool {pool} @{model.img_size}: {full.summary()}")
                if (
                    self.pool_stage + 1 < len(self.cfg.pool)
                    and min(fitted.point_miou, fitted.box_miou) >= self.cfg.grow_at
                ):
                    grow[0] = 1
            held_out = evaluate(model, self.cfg.eval_objects)
            record["held_out"] = held_out.as_dict()
            self.log.event(
                f"step {self.step}: held-out @1024: {held_out.summary()} "
                f"({time.perf_counter() - started:.0f}s)"
            )
            with open(self.cfg.out / "evals.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
        if self.ctx.world > 1:
            torch.distributed.broadcast(grow, 0)
        if grow.item():
            self.pool_stage += 1
            self.log.event(f"step {self.step}: pool fitted, now {self.pool or 'fresh'} scenes")

    def run(self) -> None:
        cfg = self.cfg
        if self.ctx.is_main:
            phases = ", ".join(
                f"{p.size}px x{p.images} images x{p.prompts} prompts, steps {p.start}-{p.end}"
                for p in self.phases
            )
            self.log.event(
                f"training {cfg.config} for {cfg.steps} steps on {self.ctx.world} process(es): {phases}"
            )
        last_save = last_eval = time.perf_counter()
        step_start = time.perf_counter()
        try:
            while self.step < cfg.steps:
                phase = phase_at(self.phases, self.step)
                metrics = self.train_step()
                now = time.perf_counter()
                seconds = now - step_start
                self.elapsed += seconds
                if self.ctx.is_main:
                    metrics["lr"] = self.optimizer.param_groups[0]["lr"]
                    info = f"{phase.size}px {seconds:.2f}s/step"
                    self.log.progress(self.step, cfg.steps, metrics, info)
                if self.step == phase.end or now - last_save > cfg.save_every * 60:
                    self.save()
                    last_save = time.perf_counter()
                if cfg.eval_every and now - last_eval > cfg.eval_every * 60:
                    self.run_eval()
                    last_eval = time.perf_counter()
                step_start = time.perf_counter()  # saving and evaluating are not step time
            self.save()
            if cfg.eval_every:
                self.run_eval()
            if self.ctx.is_main:
                self.log.event(f"done: {self.last_path}, official layout {cfg.out / 'model.pth'}")
        finally:
            self.log.close()
            distributed.teardown(self.ctx)
