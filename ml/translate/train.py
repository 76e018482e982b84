"""Train a translator on Multi30k (or any two line-aligned files) with the shared ml.training core.

    from ml.translate.train import TranslateConfig, train
    result = train(TranslateConfig(target="de", run_dir="var/runs/translate-en-de"), on_progress=print)

Subword models are learnt from the training split at the start of a fresh run and kept in every model directory.
Each epoch ends with greedy decoding of the validation split, scored by sacreBLEU; best/ keeps the best-scoring
epoch (the EMA weights when ``ema`` > 0). With ``export_dir`` set, best/ is saved there as float16 at the end.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from ..training.config import TrainConfig
from ..training.run import EARLY_STOPPED, FINISHED, TIME_BUDGET, Run
from . import checkpoint
from .data import ParallelData, Subwords, default_multi30k_dir, multi30k_pairs, read_aligned, read_pairs
from .decode import greedy
from .evaluate import score
from .model import ATTENTIONS, ModelConfig, Seq2Seq, translation_loss


@dataclass
class TranslateConfig(TrainConfig):
    """Every knob of a translator run."""
    source: str = "en"
    target: str = "de"
    data_dir: str = ""                # Multi30k folder (default $MULTI30K_DIR or ../shared/data/multi30k)
    train_source: str = ""            # instead of Multi30k: a line-aligned pair of UTF-8 files...
    train_target: str = ""
    train_pairs: str = ""             # ...or one tab-separated file, source<TAB>target on each line
    val_lines: int = 500              # the last pairs of either are held out for validation
    src_vocab: int = 8000             # sentencepiece pieces per language
    tgt_vocab: int = 8000
    shared_vocab: bool = False        # one sentencepiece model (src_vocab pieces) and one embedding for both
    emb_dim: int = 256
    enc_hidden: int = 256             # per direction
    enc_layers: int = 1
    dec_hidden: int = 512
    attention: str = "general"        # "general" (Luong attention) or "none" (one sentence vector)
    input_feed: bool = True           # feed the last attentional vector back into the decoder
    dropout: float = 0.3
    tie_weights: bool = True
    label_smoothing: float = 0.1
    batch_size: int = 128             # sentence pairs per step, grouped by length
    max_tokens: int = 80              # training pairs longer than this (pieces) are left out
    epochs: int = 25
    patience: int = 5
    lr: float = 2e-3
    min_lr_ratio: float = 0.05        # cosine decay to lr * this at the last epoch
    warmup_steps: int = 200
    clip: float = 1.0
    ema: float = 0.999                # validate and keep an exponential average of the weights (0 = off)
    val_sentences: int = 0            # 0 = the whole validation split
    bf16: bool = True
    seed: int = 1
    slot: str = ""                    # the registry slot (default en-de, or en-de-noattn without attention)
    label: str = ""

    def validate(self) -> "TranslateConfig":
        super().validate()
        checks = [
            (self.attention in ATTENTIONS, f"attention must be one of {ATTENTIONS}"),
            (self.source != self.target, "source and target must differ"),
            (bool(self.train_source) == bool(self.train_target), "give both train_source and train_target"),
            (not (self.train_pairs and self.train_source), "give train_pairs or train_source/train_target, not both"),
            (self.src_vocab >= 100 and self.tgt_vocab >= 100, "vocabularies need at least 100 pieces"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 <= self.ema < 1, "ema must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def model_config(self, src_vocab: int, tgt_vocab: int) -> ModelConfig:
        return ModelConfig(src_vocab=src_vocab, tgt_vocab=tgt_vocab, emb_dim=self.emb_dim,
                           enc_hidden=self.enc_hidden, enc_layers=self.enc_layers, dec_hidden=self.dec_hidden,
                           attention=self.attention, input_feed=self.input_feed, dropout=self.dropout,
                           tie_weights=self.tie_weights, share_embeddings=self.shared_vocab)

    def languages(self) -> dict:
        return {"source": self.source, "target": self.target}

    def manifest(self) -> dict:
        return checkpoint.make_manifest(self.source, self.target, self.attention != "none", self.slot, self.label)


def load_pairs(cfg: TranslateConfig) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train pairs, validation pairs): Multi30k's train and val, or the given files with their last
    ``val_lines`` held out."""
    if cfg.train_source or cfg.train_pairs:
        pairs = read_pairs(cfg.train_pairs) if cfg.train_pairs else read_aligned(cfg.train_source, cfg.train_target)
        held = min(cfg.val_lines, len(pairs) // 10)
        if held < 1:
            raise ValueError("too few lines to hold any out for validation")
        return pairs[:-held], pairs[-held:]
    root = cfg.data_dir or default_multi30k_dir()
    return (multi30k_pairs("train", cfg.source, cfg.target, root),
            multi30k_pairs("val", cfg.source, cfg.target, root))


def lr_factor(step: int, total: int, cfg: TranslateConfig, budget_used: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` at ``total`` steps, or earlier when the time budget
    runs out first (``budget_used``: its share spent), so a time-limited run still ends annealed."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, max((step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps), budget_used))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def ema_decay(step: int, ema: float) -> float:
    """The averaging rate at ``step``: short at first, so the average does not drag the random start along
    for thousands of steps (TensorFlow's ExponentialMovingAverage with num_updates does the same)."""
    return min(ema, (1 + step) / (10 + step))


def validate(model: Seq2Seq, data: ParallelData, target_sw: Subwords, limit: int = 0, batch: int = 200) -> dict:
    """Greedy translations of the validation pairs, scored by sacreBLEU."""
    count = limit or len(data)
    hypotheses = []
    for start in range(0, count, batch):
        pieces = greedy(model, data.src[start:min(start + batch, count)])
        hypotheses += [target_sw.decode(p) for p in pieces]
    metrics = score(hypotheses, [t for _, t in data.pairs[:count]])
    return {k: metrics[k] for k in ("bleu", "chrf", "n_sentences")}


class Trainer:
    """Model, averaged copy, optimizer and data of a translator run: the pieces train() steps."""

    def __init__(self, cfg: TranslateConfig, run: Run):
        self.cfg, self.run = cfg, run
        train_pairs, val_pairs = load_pairs(cfg)
        if run.resuming:
            self.source_sw = Subwords.load(run.last / "source.spm")
            self.target_sw = (self.source_sw if cfg.shared_vocab else Subwords.load(run.last / "target.spm"))
        elif cfg.shared_vocab:
            self.source_sw = self.target_sw = Subwords.train([s for pair in train_pairs for s in pair], cfg.src_vocab)
        else:
            self.source_sw = Subwords.train([s for s, _ in train_pairs], cfg.src_vocab)
            self.target_sw = Subwords.train([t for _, t in train_pairs], cfg.tgt_vocab)
        self.train_data = ParallelData(train_pairs, self.source_sw, self.target_sw, cfg.max_tokens)
        self.val_data = ParallelData(val_pairs, self.source_sw, self.target_sw)
        self.model = Seq2Seq(cfg.model_config(len(self.source_sw), len(self.target_sw)))
        self.average = copy.deepcopy(self.model).eval() if cfg.ema else None
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.steps_per_epoch = len(self.train_data.batches(cfg.batch_size))
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.state = {"epoch": 0, "step_in_epoch": 0, "step": 0, "best": -1.0, "best_epoch": None,
                      "bad_epochs": 0, "history": []}
        if run.resuming:
            self.state, extra = run.load_last(self.optimizer)
            model, _, _, _ = checkpoint.load_model(run.last)
            self.model.load_state_dict(model.state_dict())
            if self.average is not None:
                self.average.load_state_dict({**self.model.state_dict(), **extra})

    def step(self, index: list[int]) -> float:
        cfg = self.cfg
        self.model.train()
        budget_used = self.run.invocation_s() / (cfg.time_budget_min * 60) if cfg.time_budget_min else 0.0
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr * lr_factor(self.state["step"], self.total_steps, cfg, budget_used)
        src, lengths, y_in, y_out = self.train_data.tensors(index)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.run.bf16):
            logits, _ = self.model(src, lengths, y_in)
        loss = translation_loss(logits, y_out, cfg.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.optimizer.step()
        if self.average is not None:
            decay = ema_decay(self.state["step"], cfg.ema)
            with torch.no_grad():
                for mine, avg in zip(self.model.parameters(), self.average.parameters()):
                    avg.lerp_(mine, 1 - decay)
        return loss.item()

    def scored_model(self) -> Seq2Seq:
        return self.average if self.average is not None else self.model

    def write(self, directory: Path, name: str, metrics: dict, model: Seq2Seq | None = None) -> None:
        checkpoint.write_model_files(directory, model or self.model, self.source_sw, self.target_sw,
                                     self.cfg.languages(), self.cfg.manifest(), metrics, name=name)

    def save_last(self) -> None:
        extra = {name: p.detach() for name, p in self.average.named_parameters()} if self.average else None
        self.run.save_last(lambda d: self.write(d, "last", {"history": self.state["history"]}), self.optimizer,
                           self.state, extra)

    def end_epoch(self, losses: list[float], partial: bool = False) -> bool:
        """Validate, keep the best model, log, save last/ -> True when early stopping triggers. ``partial``: the
        run stops inside an epoch, whose counters stay as they are so a resume finishes it."""
        cfg, st = self.cfg, self.state
        val = validate(self.scored_model(), self.val_data, self.target_sw, cfg.val_sentences)
        improved = val["bleu"] > st["best"]
        epoch = round(st["epoch"] + st["step_in_epoch"] / self.steps_per_epoch, 3) if partial else st["epoch"]
        if improved:
            st.update(best=val["bleu"], best_epoch=epoch, **({} if partial else {"bad_epochs": 0}))
            metrics = {"val": val, "epoch": epoch, "elapsed_s": round(self.run.elapsed_s(), 1),
                       "command": cfg.command, "train_config": asdict(cfg)}
            with checkpoint.atomic_dir(self.run.best) as tmp:
                self.write(tmp, "best", metrics, self.scored_model())
        elif not partial:
            st["bad_epochs"] += 1
        entry = {"epoch": epoch, "val": val, "loss": sum(losses) / len(losses) if losses else None,
                 "elapsed_s": round(self.run.elapsed_s(), 1), **({"partial_epoch": True} if partial else {})}
        st["history"].append(entry)
        with open(self.run.dir / "history.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.save_last()
        self.run.emit("epoch", epoch=st["epoch"] + 1 if partial else st["epoch"], epochs=cfg.epochs, step=st["step"],
                      total_steps=self.total_steps, loss=entry["loss"], val=val, val_bleu=val["bleu"],
                      improved=improved, best=st["best"], best_epoch=st["best_epoch"], elapsed_s=entry["elapsed_s"],
                      **({"partial": True} if partial else {}))
        return st["bad_epochs"] >= cfg.patience


def train(cfg: TranslateConfig, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> dict:
    """Train (or, with ``cfg.resume``, continue) a translator in ``cfg.run_dir``; returns the done event.

    Step events carry loss and lr; epoch events ``val`` {bleu, chrf, n_sentences} (greedy), ``improved``,
    ``best`` (val BLEU) and ``best_epoch``.
    """
    run = Run(cfg, on_progress, should_stop)
    t = Trainer(cfg, run)
    st = t.state
    status = None
    while st["epoch"] < cfg.epochs and status is None:
        batches = t.train_data.batches(cfg.batch_size, seed=cfg.seed * 1000 + st["epoch"])
        losses = []
        for b in range(st["step_in_epoch"], len(batches)):
            if status := run.interrupted():
                t.save_last()
                break
            losses.append(t.step(batches[b]))
            st["step_in_epoch"] = b + 1
            st["step"] += 1
            if st["step"] % cfg.log_every == 0:
                recent = losses[-cfg.log_every:]
                run.emit("step", epoch=st["epoch"] + 1, epochs=cfg.epochs, step=st["step"],
                         total_steps=t.total_steps, loss=sum(recent) / len(recent),
                         lr=t.optimizer.param_groups[0]["lr"], elapsed_s=round(run.elapsed_s(), 1))
            if run.checkpoint_due():
                t.save_last()
        if status is None:
            st["epoch"] += 1
            st["step_in_epoch"] = 0
            if t.end_epoch(losses):
                status = EARLY_STOPPED
    if status == TIME_BUDGET and st["step_in_epoch"] > 0:
        # The schedule anneals to the budget's end, so the weights the budget stops on are often the best yet.
        t.end_epoch(losses, partial=True)
    return run.finish(status or FINISHED, export=lambda best, dst: export_best(best, dst), epoch=st["epoch"],
                      step=st["step"], total_steps=t.total_steps, best=st["best"], best_epoch=st["best_epoch"])


def export_best(best_dir, export_dir) -> Path:
    """Re-save a (float32) run model as the float16 shipped model directory."""
    model, source_sw, target_sw, config = checkpoint.load_model(best_dir)
    metrics = json.loads((Path(best_dir) / "metrics.json").read_text())
    manifest = {k: v for k, v in config["manifest"].items() if k not in ("name", "files")}
    return checkpoint.save_model(export_dir, model, source_sw, target_sw,
                                 {"source": config["source"], "target": config["target"]}, manifest, metrics,
                                 config.get("decode"), dtype=torch.float16)
