"""Fine-tuning the embedder on mined pairs into a versioned model folder, and naming the active one.

The model is trained in ``<data>/embedders/.staging-<name>-<pid>/``, flushed to disk and renamed to
``<data>/embedders/<name>/`` only when complete, so an interrupted run (an exception, kill -9) leaves no
usable half model and ``active.json`` still naming the previous one. ``active.json`` is replaced atomically;
:meth:`comply.config.Settings.embed_model_path` reads it. Indexes keep the model they were built with until
a re-index (``comply reindex``). Training starts from the untuned model (the explicit ``embed_model``
setting, else the shipped one), so running it again with the same data and settings gives the same name.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

from comply import audit
from comply.config import Settings, default_embed_model
from comply.db import transaction
from kb_ingest.embedder_pairs import Pair, count_by_kind, mine_pairs, pairs_sha256
from retrieval.embedding import pick_device

AUDIT_ACTION = "kb.tune_embedder"
DISTRACTORS = 200  # training articles added to the validation candidates
_TUNED_SUFFIX = re.compile(r"-ft-[0-9a-f]{8}$")


@dataclass(frozen=True)
class TuneOptions:
    """Training settings (all recorded in ``training.json`` and the audit row)."""

    epochs: int = 1
    max_steps: int = 0  # 0: as many as the epochs give
    seed: int = 42
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 128  # while training (CPU cost); the model keeps the base's length for encoding
    holdout: float = 0.1  # share of pairs held back for validation, whole documents at a time
    include_dev: bool = False


@dataclass(frozen=True)
class TuneResult:
    """What a run produced: the model folder, its training record, and whether it was trained now or reused."""

    name: str
    path: Path
    record: dict
    reused: bool
    activated: bool


def embedders_root(settings: Settings) -> Path:
    """The folder holding one sub-folder per tuned model, and ``active.json``."""
    return settings.active_embedder_file.parent


def base_model(settings: Settings) -> str:
    """The model tuning starts from: the explicit ``embed_model`` setting, else the shipped one (never a tuned one)."""
    return settings.embed_model or default_embed_model()


def dev_questions_file(settings: Settings) -> Path:
    """The development retrieval questions (the shared eval folder's ``dev``; never a measure set)."""
    return settings.taxonomy_file.parent / "dev" / "retrieval_questions.jsonl"


def split_by_document(pairs: list[Pair], holdout: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, validation): whole documents, in an order fixed by the seed, go to validation until ``holdout`` of the pairs."""
    groups: dict[str, int] = {}
    for p in pairs:
        groups[p.group] = groups.get(p.group, 0) + 1
    held: set[str] = set()
    order = sorted(groups, key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    for group in order[:-1]:  # at least one document stays for training
        if sum(groups[g] for g in held) >= holdout * len(pairs):
            break
        held.add(group)
    return [p for p in pairs if p.group not in held], [p for p in pairs if p.group in held]


def batches(pairs: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches in which no anchor and no positive occurs twice (each would be another's false negative)."""
    pending = deque(rng.sample(pairs, len(pairs)))
    out = []
    while pending:
        batch, anchors, positives, skipped = [], set(), set(), []
        while pending and len(batch) < size:
            p = pending.popleft()
            if p.anchor in anchors or p.positive in positives:
                skipped.append(p)
            else:
                batch.append(p)
                anchors.add(p.anchor)
                positives.add(p.positive)
        pending.extendleft(reversed(skipped))
        out.append(batch)
    return out


@dataclass(frozen=True)
class ValidationScores:
    """A model on the held-back pairs: recall@5 among all candidates, and the similarities of unrelated pairs."""

    recall: float
    negatives: np.ndarray


def validation_scores(model: object, pairs: list[Pair], distractors: list[str], k: int = 5) -> ValidationScores:
    """Rank, for each pair's anchor, the distinct positives of all pairs plus ``distractors`` (other documents' articles)."""
    if not pairs:
        return ValidationScores(0.0, np.zeros(0, dtype=np.float32))
    docs = list(dict.fromkeys([p.positive for p in pairs] + distractors))
    own = np.array([docs.index(p.positive) for p in pairs])
    d = model.encode(docs, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    q = model.encode([p.anchor for p in pairs], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    sims = q @ d.T
    top = np.argsort(-sims, axis=1)[:, :k]
    unrelated = np.ones_like(sims, dtype=bool)
    unrelated[np.arange(len(pairs)), own] = False
    return ValidationScores(round(float(np.mean([o in row for o, row in zip(own, top)])), 4), sims[unrelated])


def equivalent_floor(floor: float, base: np.ndarray, tuned: np.ndarray) -> float:
    """The tuned model's similarity below which the same share of unrelated pairs falls as below ``floor`` for the base
    (fine-tuning spreads similarities, so a floor set for the base model would reject nearly everything)."""
    if not len(base) or not len(tuned):
        return floor
    return round(float(np.quantile(tuned, float(np.mean(base < floor)))), 4)


def _sha256_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        elif path.is_dir():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _sweep_staging(root: Path) -> None:
    """Remove staging folders left by runs that died (their process is gone)."""
    for path in root.glob(".staging-*"):
        pid = path.name.rsplit("-", 1)[-1]
        alive = pid.isdigit() and _pid_alive(int(pid))
        if not alive:
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_active(settings: Settings, name: str) -> Path:
    """Name ``name`` the active tuned model (atomic replace of ``active.json``)."""
    target = settings.active_embedder_file
    root = target.parent
    if not (root / name / "training.json").is_file():
        raise FileNotFoundError(f"没有已完成的嵌入模型 {name}")
    temp = root / f".{target.name}.{os.getpid()}.tmp"
    with temp.open("w", encoding="utf-8") as fh:
        json.dump({"name": name, "activated_at": datetime.now(UTC).isoformat(timespec="seconds")}, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, target)
    _fsync_dir(root)
    return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _train(base: str, train: list[Pair], validation: list[Pair], opts: TuneOptions, device: str, floors: dict[str, float],
           progress: Callable[[int, int, float], None] | None) -> tuple[object, dict]:
    """Fine-tune a copy of the base model with in-batch-negative ranking loss; returns the model and statistics
    (steps, losses, the validation score of the base model and of the tuned one, and ``floors`` translated for it)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import batch_to_device
    from transformers import get_linear_schedule_with_warmup

    random.seed(opts.seed)
    np.random.seed(opts.seed)
    torch.manual_seed(opts.seed)
    model = SentenceTransformer(base, device=device, local_files_only=True)
    t0 = time.perf_counter()
    candidates = sorted({p.positive for p in train})
    distractors = random.Random(f"{opts.seed}:distractors").sample(candidates, min(DISTRACTORS, len(candidates)))
    before = validation_scores(model, validation, distractors)
    validate_s = time.perf_counter() - t0
    served_length, model.max_seq_length = model.max_seq_length, opts.max_seq_length  # shorter only while training
    rng = random.Random(opts.seed)
    plan = [b for _ in range(opts.epochs) for b in batches(train, opts.batch_size, rng) if len(b) > 1]
    if opts.max_steps:
        plan = plan[: opts.max_steps]
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(len(plan) * opts.warmup_ratio), max(1, len(plan)))
    model.train()
    losses = []
    for step, batch in enumerate(plan, start=1):
        features = [batch_to_device(model.preprocess([getattr(p, col) for p in batch]), model.device) for col in ("anchor", "positive")]
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        if progress:
            progress(step, len(plan), losses[-1])
    model.eval()
    model.max_seq_length = served_length
    t1 = time.perf_counter()
    after = validation_scores(model, validation, distractors)
    return model, {
        "steps": len(plan), "loss_first": round(losses[0], 4) if losses else None,
        "loss_last": round(float(np.mean(losses[-10:])), 4) if losses else None,
        "validation": {"metric": "recall@5", "candidates": len(set(distractors) | {p.positive for p in validation}),
                       "base": before.recall, "tuned": after.recall},
        "floors": {name: equivalent_floor(value, before.negatives, after.negatives) for name, value in floors.items()},
        "timings_s": {"validate": round(validate_s + time.perf_counter() - t1, 2), "train": round(t1 - t0 - validate_s, 2)},
    }


@dataclass(frozen=True)
class TunePlan:
    """What a run will train: the mined pairs and their split, the base model, and the model's name and folder."""

    name: str
    path: Path
    base: str
    base_sha256: str
    data_sha256: str
    pairs: list[Pair]
    train: list[Pair]
    validation: list[Pair]
    options: TuneOptions
    mine_s: float


def plan_tuning(settings: Settings, con: duckdb.DuckDBPyConnection, opts: TuneOptions) -> TunePlan:
    """Mine and split the pairs and name the model after its data, base model and options.

    Raises:
        ValueError: when the knowledge base gives no pairs to train on.
    """
    started = time.perf_counter()
    pairs = mine_pairs(con, dev_questions_file(settings) if opts.include_dev else None)
    train, validation = split_by_document(pairs, opts.holdout, opts.seed)
    if not train:
        raise ValueError("知识库中没有可用于训练的公开条文，请先导入法规")
    base = base_model(settings)
    data_sha, base_sha = pairs_sha256(pairs), _sha256_folder(Path(base))
    identity = json.dumps({"data": data_sha, "base": base_sha, "options": asdict(opts)}, sort_keys=True)
    name = f"{_TUNED_SUFFIX.sub('', Path(base).name)}-ft-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"
    return TunePlan(name, embedders_root(settings) / name, base, base_sha, data_sha, pairs, train, validation, opts,
                    time.perf_counter() - started)


def train_model(settings: Settings, plan: TunePlan,
                progress: Callable[[int, int, float], None] | None = None) -> tuple[dict, bool]:
    """Train the planned model into its folder (needs no database); returns its training record and whether an
    identical model already there was reused instead."""
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_staging(plan.path.parent)
    if (plan.path / "training.json").is_file():
        return json.loads((plan.path / "training.json").read_text(encoding="utf-8")), True
    return _train_into(settings, plan, progress), False


def finish(settings: Settings, con: duckdb.DuckDBPyConnection, plan: TunePlan, record: dict, reused: bool,
           activate: bool, actor: str) -> TuneResult:
    """Activate the model (when asked) and record the run in the audit chain."""
    with transaction(con):  # audited first: a model never becomes active without its row
        audit.append(con, actor, AUDIT_ACTION, plan.name, {
            "data_sha256": plan.data_sha256, "base_model": Path(plan.base).name, "base_model_sha256": plan.base_sha256,
            "pairs": record["pairs"], "settings": record["settings"], "validation": record["validation"],
            "floors": record["floors"], "reused": reused, "activated": activate})
    if activate:
        write_active(settings, plan.name)
    return TuneResult(plan.name, plan.path, record, reused, activate)


def tune(settings: Settings, con: duckdb.DuckDBPyConnection, opts: TuneOptions, activate: bool = False, actor: str = "cli",
         progress: Callable[[int, int, float], None] | None = None) -> TuneResult:
    """Mine pairs, train (or reuse an identical earlier model), record ``training.json``, activate, and audit.

    Raises:
        ValueError: when the knowledge base gives no pairs to train on.
    """
    plan = plan_tuning(settings, con, opts)
    record, reused = train_model(settings, plan, progress)
    return finish(settings, con, plan, record, reused, activate, actor)


def _train_into(settings: Settings, plan: TunePlan, progress: Callable[[int, int, float], None] | None) -> dict:
    """Train in a staging folder beside the model's folder and rename it into place once complete; nothing is left on failure."""
    device = pick_device(settings.embed_device)
    final = plan.path
    staging = final.parent / f".staging-{final.name}-{os.getpid()}"
    try:
        floors = {"dense_floor": settings.dense_floor, "case_dense_floor": settings.case_dense_floor}
        model, stats = _train(plan.base, plan.train, plan.validation, plan.options, device, floors, progress)
        t0 = time.perf_counter()
        model.save(str(staging), create_model_card=False)
        record = {
            "name": final.name, "base_model": plan.base, "base_model_sha256": plan.base_sha256,
            "data_sha256": plan.data_sha256, "pairs": count_by_kind(plan.pairs), "train_pairs": len(plan.train),
            "validation_pairs": len(plan.validation), "validation_documents": sorted({p.group for p in plan.validation}),
            "settings": asdict(plan.options), "device": device, **stats,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        record["timings_s"] = {"mine": round(plan.mine_s, 2), **stats["timings_s"], "save": round(time.perf_counter() - t0, 2)}
        (staging / "training.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        _fsync_tree(staging)
        os.rename(staging, final)
        _fsync_dir(final.parent)
        return record
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
