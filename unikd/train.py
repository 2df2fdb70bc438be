"""Train one scenario: the (cached) teacher, then the student with the chosen method; write the run directory."""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from unikd.augment import random_rotation, rotatable_triplets, sensor_name
from unikd.config import TrainConfig
from unikd.data import load_dataset
from unikd.data.normalise import Normaliser
from unikd.data.scenario import ScenarioData, scenario_data
from unikd.methods import METHODS, Batch, StepInfo, teacher_outputs
from unikd.metrics import scores
from unikd.models import build_model, count_parameters
from unikd.outputs import atomic_dir, check_output, check_writable, verify_complete
from unikd.rundir import DataFacts, write_json, write_run
from unikd.selection import label_free_scores

TEACHER_FIELDS = ("dataset", "source", "target", "seed", "teacher_model", "teacher_epochs", "teacher_lr",
                  "batch_size", "weight_decay", "normalise", "lambda_schedule", "dann_ce_weight", "domain_weight",
                  "teacher_im_weight", "teacher_rotate_degrees", "lr_schedule")


def seed_everything(seed: int, threads: int) -> None:
    """Same seed, same machine -> the same weights, bit for bit."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


@dataclass
class Prepared:
    data: ScenarioData
    normaliser: Normaliser  # the target's (exported with the model)
    source_normaliser: Normaliser  # what the source windows were standardised with
    xs: torch.Tensor
    ys: torch.Tensor
    xt: torch.Tensor
    yt: torch.Tensor
    x_test: torch.Tensor
    y_test: np.ndarray


def prepare(cfg: TrainConfig, data: ScenarioData | None = None) -> Prepared:
    if data is None:
        data = scenario_data(load_dataset(cfg.dataset, cfg.data_dir), cfg.source, cfg.target)
    # fitted on training windows only (target labels unused), never on test windows
    src_norm, norm = Normaliser.fit_domains(data.source_train.X, data.target_train.X, cfg.normalise)
    t = lambda n, a: torch.from_numpy(n.apply(a))  # noqa: E731
    return Prepared(data, norm, src_norm, t(src_norm, data.source_train.X), torch.from_numpy(data.source_train.y),
                    t(norm, data.target_train.X), torch.from_numpy(data.target_train.y),
                    t(norm, data.target_test.X), data.target_test.y)


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """Multiplier of the base learning rate in `epoch` (0-based): constant, or a half cosine from 1 to ~0."""
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def steps_per_epoch(p: Prepared, batch_size: int) -> int:
    """Paired (source, target) steps in one epoch: the smaller domain's full batches."""
    ns, nt = len(p.ys), len(p.yt)
    return min(ns // min(batch_size, ns), nt // min(batch_size, nt))


def epochs_for(p: Prepared, epochs: int, batch_size: int, min_steps: int) -> int:
    """`epochs`, raised so that training takes at least `min_steps` optimisation steps: on a small domain an epoch
    is a handful of steps, and a fixed epoch count leaves the student far from its teacher (docs/selection.md)."""
    return max(epochs, math.ceil(min_steps / steps_per_epoch(p, batch_size)))


def fit(method, p: Prepared, epochs: int, batch_size: int, seed: int, desc: str, progress: bool,
        lr_schedule: str = "constant", augment=None) -> list[dict]:
    """Epochs of paired (source, target) batches; both shuffled by a seeded generator, last partial batch dropped
    (so the steps per epoch = the smaller domain's full batches, as in the reference code). `augment` (windows ->
    windows) transforms each batch's windows; with a teacher, its outputs are then computed on the transformed
    windows at every step (else once per run, on the windows as they are)."""
    rng = np.random.default_rng(seed)
    ns, nt = len(p.ys), len(p.yt)
    bs_s, bs_t = min(batch_size, ns), min(batch_size, nt)
    steps = steps_per_epoch(p, batch_size)
    teacher = method.teacher
    once = teacher is not None and augment is None
    t_s, t_t = (teacher_outputs(teacher, p.xs), teacher_outputs(teacher, p.xt)) if once else (None, None)
    pick = lambda out, idx: None if out is None else (out[0][idx], out[1][idx])  # noqa: E731
    opts = method.optimizers()
    base_lrs = [[g["lr"] for g in o.param_groups] for o in opts]
    history = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False, unit="epoch")
    for epoch in bar:
        method.net.train()
        factor = lr_factor(lr_schedule, epoch, epochs)
        for o, lrs in zip(opts, base_lrs):
            for g, lr in zip(o.param_groups, lrs):
                g["lr"] = lr * factor
        ps, pt = rng.permutation(ns), rng.permutation(nt)
        sums: dict[str, float] = {}
        start = time.perf_counter()
        for step in range(steps):
            i = torch.from_numpy(ps[step * bs_s:(step + 1) * bs_s])
            j = torch.from_numpy(pt[step * bs_t:(step + 1) * bs_t])
            if augment is None:
                batch = Batch(p.xs[i], p.ys[i], p.xt[j], p.yt[j], pick(t_s, i), pick(t_t, j))
            else:
                batch = Batch.with_teacher(teacher, augment(p.xs[i]), p.ys[i], augment(p.xt[j]), p.yt[j])
            losses = method.train_step(batch, StepInfo(epoch, epochs, step, steps))
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
        row = {"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()},
               "seconds": time.perf_counter() - start}
        history.append(row)
        if progress:
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k in ("ce", "jkd", "domain", "dc", "kd")})
    method.net.eval()
    return history


@torch.no_grad()
def predict(net, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    net.eval()
    return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)]).argmax(1).numpy()


def teacher_key(cfg: TrainConfig, kind: str, data: ScenarioData) -> str:
    """Every teacher setting and the identity of the data: a teacher is reused only for the same windows."""
    spec = {k: getattr(cfg, k) for k in TEACHER_FIELDS} | {"kind": kind, "data": data.fingerprint()}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return f"{cfg.dataset}_{cfg.source}to{cfg.target}_{kind}_s{cfg.seed}_{digest}"


def get_teacher(cfg: TrainConfig, kind: str, p: Prepared):
    """Train the scenario's teacher of this kind, or reuse the cached one trained with the same settings."""
    c, k = p.xs.shape[1], p.data.windows.num_classes
    folder = cfg.teacher_cache_dir() / teacher_key(cfg, kind, p.data)
    if verify_complete(folder, "teacher") is None:
        net = build_model(cfg.teacher_model, c, k)
        net.load_state_dict(torch.load(folder / "teacher.pt", map_location="cpu", weights_only=True))
        return net.eval(), json.loads((folder / "teacher.json").read_text()) | {"cached": True}
    seed_everything(cfg.seed, cfg.threads)
    net = build_model(cfg.teacher_model, c, k)
    tcfg = TrainConfig(**{**cfg.to_dict(), "lr": cfg.teacher_lr, "im_weight": cfg.teacher_im_weight})
    method = METHODS.get(kind)(net, tcfg)
    start = time.perf_counter()
    augment, augment_note = rotation_augment(cfg.teacher_rotate_degrees, "teacher_rotate_degrees",
                                             p.data.windows.channel_names)
    history = fit(method, p, cfg.teacher_epochs, cfg.batch_size, cfg.seed, f"teacher ({kind})", cfg.progress,
                  cfg.lr_schedule, augment)
    info = {"kind": kind, "seconds": time.perf_counter() - start, "parameters": count_parameters(net),
            "augment": augment_note,
            "target_test": scores(p.y_test, predict(net, p.x_test), p.data.class_names), "history": history}
    with atomic_dir(folder, "teacher") as tmp:
        torch.save(net.state_dict(), tmp / "teacher.pt")
        write_json(tmp / "teacher.json", info)
    return net.eval(), info | {"cached": False}


def rotation_augment(degrees: float, setting: str, channel_names: list[str]):
    """(windows -> windows or None, a note for the run's records): random device rotations of up to `degrees`
    (the value of the config field `setting`) of the channels' x/y/z triplets."""
    if degrees == 0:
        return None, "none"
    triplets, skipped = rotatable_triplets(channel_names)
    why_not = "; ".join(f"{sensor_name(channel_names[t])} skipped: {why}" for t, why in skipped)
    if not triplets:
        found = f" ({why_not})" if skipped else ""
        warnings.warn(f"{setting}={degrees:g}: no x/y/z triplet of a physical sensor "
                      f"among the channels {', '.join(channel_names)}{found}; training without rotations")
        return None, f"none (no x/y/z triplet of a physical sensor{found})"
    names = ", ".join(sensor_name(channel_names[t]) for t in triplets)
    note = f"random rotation up to {degrees:g} degrees of {names}"
    if skipped:
        # a user who named a triplet x/y/z may expect it turned; say which were not and why
        warnings.warn(f"{setting}={degrees:g}: rotating {names}; {why_not}")
        note += f" ({why_not})"
    return (lambda x: random_rotation(x, degrees, triplets), note)


def train_student(cfg: TrainConfig, p: Prepared):
    """Returns (student, history, teacher, teacher_info, seconds); teacher and teacher_info are None for a method
    without one."""
    method_cls = METHODS.get(cfg.method)
    teacher, teacher_info = (None, None)
    if method_cls.teacher_kind:
        teacher, teacher_info = get_teacher(cfg, method_cls.teacher_kind, p)
    # re-seed so the student does not depend on whether the teacher came from the cache
    seed_everything(cfg.seed + 1_000_003, cfg.threads)
    student = build_model(cfg.student_model, p.xs.shape[1], p.data.windows.num_classes, dropout=cfg.student_dropout)
    method = method_cls(student, cfg, teacher)
    augment = None
    if cfg.student_rotate_degrees:
        augment, _ = rotation_augment(cfg.student_rotate_degrees, "student_rotate_degrees",
                                      p.data.windows.channel_names)
    start = time.perf_counter()
    epochs = epochs_for(p, cfg.epochs, cfg.batch_size, cfg.min_steps)
    history = fit(method, p, epochs, cfg.batch_size, cfg.seed + 1, f"student ({cfg.method})", cfg.progress,
                  cfg.lr_schedule, augment)
    return student, history, teacher, teacher_info, time.perf_counter() - start


def label_free(student, teacher, p: Prepared) -> dict:
    """Every label-free selection rule's score for this run (unikd/selection.py): no target label is read."""
    src = p.data.source_test
    x_src = None if src is None else torch.from_numpy(p.source_normaliser.apply(src.X))
    return label_free_scores(predict(student, p.xt), None if teacher is None else predict(teacher, p.xt),
                             None if src is None else src.y, None if src is None else predict(student, x_src),
                             p.data.windows.num_classes)


def train_run(cfg: TrainConfig, data: ScenarioData | None = None) -> Path:
    """Train and write the run directory (atomically, unikd.rundir.write_run). Returns its path."""
    check_output(cfg.run_dir(), "run")  # before minutes of training, not after
    check_writable(cfg.teacher_cache_dir(), f"teacher cache {cfg.teacher_cache_dir()}")
    torch.set_num_threads(cfg.threads)
    p = prepare(cfg, data)
    student, history, teacher, teacher_info, seconds = train_student(cfg, p)
    d = p.data
    metrics = scores(p.y_test, predict(student, p.x_test), d.class_names) | {
        "label_free": label_free(student, teacher, p),
        "seed": cfg.seed, "scenario": d.scenario.label, "method": cfg.method, "student_seconds": seconds,
        "student_parameters": count_parameters(student), "data_fingerprint": d.fingerprint(),
        "student_epochs": len(history), "student_steps": len(history) * steps_per_epoch(p, cfg.batch_size),
    }
    if teacher_info is not None:
        metrics["teacher"] = {"kind": teacher_info["kind"], "macro_f1": teacher_info["target_test"]["macro_f1"],
                              "accuracy": teacher_info["target_test"]["accuracy"],
                              "seconds": teacher_info["seconds"], "cached": teacher_info["cached"]}
    return write_run(
        cfg.run_dir(), config=cfg.to_dict() | {"data_dir": str(cfg.data_dir) if cfg.data_dir else None},
        model_name=cfg.student_model, facts=DataFacts.of(d.windows), student=student, normaliser=p.normaliser,
        source_normaliser=p.source_normaliser, metrics=metrics, history=history,
        confusion_title=f"{d.scenario.label} {cfg.method} seed {cfg.seed}: macro-F1 {100 * metrics['macro_f1']:.2f}")
