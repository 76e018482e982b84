"""Train the captioner on cached frozen MobileNetV2 features (or fine-tune the encoder's last blocks):
cross-entropy epochs, then optionally self-critical (SCST) ones, each phase early-stopped on validation.

    from ml.caption.train import CaptionConfig, train
    result = train(CaptionConfig(epochs=10, run_dir="var/runs/caption"), on_progress=print)

The run directory, progress events, final statuses and resume follow ml.training; last/ and best/ are
caption model directories (float32, see checkpoint.py) and history.jsonl has one line per validation.
With ``export_dir`` set, the best model is saved there as float16 at the end.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from ..training.config import TrainConfig
from ..training.run import CANCELLED, EARLY_STOPPED, FINISHED, Run
from . import checkpoint
from .data import default_data_dir, load_dataset, preprocess, read_split, split_file
from .decode import decode
from .decoder import AttentionDecoder, DecoderConfig, caption_loss
from .encoder import Encoder
from .evaluate import score_captions
from .features import build_cache
from .scst import CiderD, scst_loss
from .vocab import Vocab

EARLY_STOP_METRICS = ("cider", "bleu4", "bleu4+cider")
KEEP_CHOICES = ("best", "last")


@dataclass
class CaptionConfig(TrainConfig):
    """Every knob of a captioner run."""
    data_dir: str = field(default_factory=lambda: str(default_data_dir()))  # a dataset in any supported layout
    train_split: str = field(default_factory=lambda: str(split_file("train")))  # file listing training images
    val_split: str = field(default_factory=lambda: str(split_file("val")))  # file listing validation images
    cache_root: str = ""              # image feature cache (default var/cache/caption-features)
    export_int8: bool = True          # the exported config turns on the int8 decoder (check quality!)
    min_freq: int = 5                 # words seen fewer times in training captions become <unk>
    max_words: int = 20               # training captions are cut to this many words
    embed_dim: int = 512
    hidden_dim: int = 512
    attention_dim: int = 512
    proj_dim: int = 512
    dropout: float = 0.5
    tie_weights: bool = True          # share the word embedding with the output layer
    fine_tune_blocks: int = 0         # >0 also trains the encoder's last blocks
    cache_partial: bool = True        # ...from a cache of the map entering them (else from images)
    flip_prob: float = 0.0            # chance a training image is seen mirrored ("left"<->"right" swapped in
                                      # its captions); needs frozen cached features
    batch_images: int = 32            # x5 captions per image
    lr: float = 4e-4
    encoder_lr: float = 1e-4
    warmup_steps: int = 200
    min_lr_ratio: float = 0.1         # cosine decay to lr * this at the last cross-entropy epoch
    alpha_c: float = 1.0              # doubly stochastic attention weight
    label_smoothing: float = 0.1
    early_stop_metric: str = "cider"  # "cider", "bleu4" or "bleu4+cider" (their sum)
    keep: str = "best"                # "best": keep the best val epoch, stop early; "last": a fixed schedule
                                      # (every epoch runs, the last is kept), for a final model trained on the
                                      # val images too, where val cannot judge
    val_beam: int = 3
    val_images: int = 0               # 0 = the whole val split
    max_train_images: int = 0         # 0 = the whole train split (fewer = a smoke test)
    bf16: bool = True
    seed: int = 8
    scst_epochs: int = 0              # self-critical epochs (CIDEr-D reward) after cross-entropy; 0 = off
    scst_lr: float = 2e-5
    scst_samples: int = 5             # captions sampled per image; their mean reward is the baseline
    scst_patience: int = 2
    scst_top_p: float = 0.9           # draw SCST samples from the nucleus of this much probability

    def validate(self) -> "CaptionConfig":
        super().validate()
        if self.keep not in KEEP_CHOICES:
            raise ValueError(f"keep must be one of {KEEP_CHOICES}, not {self.keep!r}")
        if self.early_stop_metric not in EARLY_STOP_METRICS:
            raise ValueError(f"early_stop_metric must be one of {EARLY_STOP_METRICS}, not {self.early_stop_metric!r}")
        if self.flip_prob and self.fine_tune_blocks:
            raise ValueError("flip_prob needs frozen features (fine_tune_blocks = 0)")
        return self

    def decoder_config(self, vocab_size: int) -> DecoderConfig:
        return DecoderConfig(vocab_size=vocab_size, proj_dim=self.proj_dim, embed_dim=self.embed_dim,
                             hidden_dim=self.hidden_dim, attention_dim=self.attention_dim,
                             dropout=self.dropout, tie_weights=self.tie_weights)


class CaptionData:
    """Split names, encoded captions and (frozen) features or an image loader."""

    def __init__(self, cfg: CaptionConfig, vocab: Vocab | None, on_progress=None, should_stop=None):
        self.images_dir, caps = load_dataset(cfg.data_dir)
        self.train_names = [n for n in read_split(cfg.train_split) if n in caps]
        self.val_names = [n for n in read_split(cfg.val_split) if n in caps]
        if cfg.max_train_images:
            self.train_names = self.train_names[:cfg.max_train_images]
        if cfg.val_images:
            self.val_names = self.val_names[:cfg.val_images]
        if not self.train_names or not self.val_names:
            raise ValueError("empty train or val split: check the split files against the dataset")
        self.val_seen_in_training = len(set(self.val_names) & set(self.train_names))
        self.captions = caps
        self.vocab = vocab or Vocab.build([c for n in self.train_names for c in caps[n]], cfg.min_freq)
        self.encoded = {n: [self.vocab.encode(c, cfg.max_words) for c in caps[n]] for n in self.train_names}
        self.encoded_flipped = {n: [swap_left_right(s, self.vocab) for s in seqs]
                                for n, seqs in self.encoded.items()}
        self.features = None
        # Fine-tuning the last blocks still runs from a cache: the map entering the first tuned block.
        self.partial = cfg.fine_tune_blocks > 0
        if cfg.fine_tune_blocks == 0 or cfg.cache_partial:
            cache = build_cache(self.images_dir, sorted(caps), cfg.cache_root or None,
                                upto_block=19 - cfg.fine_tune_blocks, on_progress=on_progress,
                                should_stop=should_stop)
            if cache.progress_done() < len(cache.names):
                raise InterruptedError("stopped while building the feature cache (it resumes next time)")
            self.features = {"train": cache.stack(self.train_names), "val": cache.stack(self.val_names)}
            if cfg.flip_prob > 0:
                mirrored = build_cache(self.images_dir, self.train_names, cfg.cache_root or None, hflip=True,
                                       on_progress=on_progress, should_stop=should_stop)
                if mirrored.progress_done() < len(mirrored.names):
                    raise InterruptedError("stopped while building the mirrored feature cache")
                self.features["train_flipped"] = mirrored.stack(self.train_names)
            self.row = {"train": {n: i for i, n in enumerate(self.train_names)},
                        "val": {n: i for i, n in enumerate(self.val_names)}}

    def encode(self, encoder, inputs: torch.Tensor) -> torch.Tensor:
        """Batch inputs -> ``(B, 49, 1280)``: cached cells as they are, cached partial maps through the
        tuned blocks, images through the whole encoder."""
        if self.features is None:
            return encoder(inputs)
        return encoder.tail(inputs) if self.partial else inputs

    def features_for(self, names: list[str]) -> torch.Tensor:
        rows = torch.tensor([self.row["train"][n] for n in names])
        return self.features["train"][rows].float()

    def images(self, names: list[str]) -> torch.Tensor:
        return torch.stack([preprocess(self.images_dir / n) for n in names])

    def batch(self, names: list[str], flipped: list[bool] | None = None):
        """-> (features or images, captions (B, T) sorted by length desc, lengths (B,), image_index (B,)).

        ``flipped[i]`` takes image i's mirrored features and its left/right-swapped captions.
        """
        flipped = flipped or [False] * len(names)
        seqs = [(len(s), i, s) for i, (n, f) in enumerate(zip(names, flipped))
                for s in (self.encoded_flipped if f else self.encoded)[n]]
        seqs.sort(key=lambda x: -x[0])
        T = seqs[0][0]
        captions = torch.zeros(len(seqs), T, dtype=torch.long)
        for j, (length, _, s) in enumerate(seqs):
            captions[j, :length] = torch.tensor(s)
        lengths = torch.tensor([x[0] for x in seqs])
        index = torch.tensor([x[1] for x in seqs])
        if self.features is not None:
            rows = torch.tensor([self.row["train"][n] for n in names])
            inputs = self.features["train"][rows].float()
            if any(flipped):
                mask = torch.tensor(flipped)
                inputs[mask] = self.features["train_flipped"][rows[mask]].float()
        else:
            inputs = self.images(names)
        return inputs, captions, lengths, index



def swap_left_right(seq: list[int], vocab: Vocab) -> list[int]:
    """Caption ids of the mirrored image: "left" and "right" trade places."""
    left, right = vocab.stoi.get("left"), vocab.stoi.get("right")
    swap = {left: right, right: left} if left is not None and right is not None else {}
    return [swap.get(t, t) for t in seq]


def lr_factor(step: int, total: int, cfg: CaptionConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` at ``total`` steps."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def early_stop_score(val: dict, metric: str) -> float:
    """The number a run keeps its best model by: one val metric, or BLEU-4 + CIDEr when both matter."""
    if metric not in EARLY_STOP_METRICS:
        raise ValueError(f"early_stop_metric must be one of {EARLY_STOP_METRICS}, got {metric!r}")
    return sum(val[m] for m in metric.split("+"))


def validate(encoder, decoder, data: CaptionData, cfg: CaptionConfig, batch: int = 100) -> dict:
    """Beam-search the val split and score it (BLEU + CIDEr, no METEOR: it is slow)."""
    decoder.eval()
    encoder.eval()
    hyps = {}
    with torch.inference_mode():
        for s in range(0, len(data.val_names), batch):
            names = data.val_names[s:s + batch]
            if data.features is not None:
                feats = data.encode(encoder, data.features["val"][s:s + batch].float())
            else:
                feats = encoder(data.images(names))
            for n, h in zip(names, decode(decoder, feats, data.vocab, beam=cfg.val_beam)):
                hyps[n] = " ".join(data.vocab.decode(h[0].tokens))
    metrics = score_captions({n: data.captions[n] for n in data.val_names}, hyps, meteor=False)
    metrics["distinct_words"] = len({w for c in hyps.values() for w in c.split()})
    return metrics


def start_decoder(cfg: CaptionConfig) -> tuple[AttentionDecoder, Vocab]:
    """``cfg.init_from``'s decoder and vocabulary (a model whose encoder was not fine-tuned)."""
    _, start, vocab, config = checkpoint.load_model(cfg.init_from)
    if config["encoder"].get("fine_tune_blocks"):
        raise ValueError(f"{cfg.init_from}: start from a model whose encoder was not fine-tuned")
    return start, vocab


def init_decoder(decoder: AttentionDecoder, start: AttentionDecoder, cfg: CaptionConfig) -> None:
    """Copy ``start``'s weights into ``decoder``; their sizes must match (dropout may differ)."""
    sizes = ("vocab_size", "feature_dim", "proj_dim", "embed_dim", "hidden_dim", "attention_dim", "tie_weights")
    theirs, ours = ({k: getattr(c, k) for k in sizes} for c in (start.cfg, decoder.cfg))
    if theirs != ours:
        raise ValueError(f"{cfg.init_from}: decoder sizes {theirs} differ from this run's {ours}")
    decoder.load_state_dict(start.state_dict())


class Phase(NamedTuple):
    """Cross-entropy ("xe") or self-critical ("scst") training: which counter, how long, how patient."""
    name: str
    counter: str          # the state key counting this phase's finished epochs
    epochs: int
    patience: int
    seed_offset: int      # the data order of epoch e is seeded by cfg.seed + seed_offset + e


def phases(cfg: CaptionConfig) -> tuple[Phase, Phase]:
    return (Phase("xe", "epoch", cfg.epochs, cfg.patience, 0),
            Phase("scst", "scst_epoch", cfg.scst_epochs, cfg.scst_patience, 1000))


class CaptionTrainer:
    """Encoder, decoder, optimizer and data of a captioner run: the pieces train() steps."""

    def __init__(self, cfg: CaptionConfig, run: Run, data: CaptionData, start: AttentionDecoder | None):
        self.cfg, self.run, self.data = cfg, run, data
        self.decoder = AttentionDecoder(cfg.decoder_config(len(data.vocab)))
        if start is not None:
            init_decoder(self.decoder, start, cfg)
        self.encoder = Encoder(pretrained=True, fine_tune_blocks=cfg.fine_tune_blocks)
        groups = [{"params": [p for p in self.decoder.parameters() if p.requires_grad], "lr": cfg.lr}]
        encoder_params = [p for p in self.encoder.parameters() if p.requires_grad]
        if encoder_params:
            groups.append({"params": encoder_params, "lr": cfg.encoder_lr})
        self.optimizer = torch.optim.Adam(groups)
        self.base_lrs = [g["lr"] for g in groups]
        self.steps_per_epoch = math.ceil(len(data.train_names) / cfg.batch_images)
        self.total_steps = self.steps_per_epoch * (cfg.epochs + cfg.scst_epochs)
        self.cider = None          # the SCST reward, built when that phase starts
        self.state = {"epoch": 0, "scst_epoch": 0, "step_in_epoch": 0, "step": 0, "best": -1.0, "best_epoch": None,
                      "bad_epochs": 0, "history": [], "xe_done": False, "scst_started": False}
        if run.resuming:
            self.state, _ = run.load_last(self.optimizer)
            encoder, decoder, _, _ = checkpoint.load_model(run.last)
            self.decoder.load_state_dict(decoder.state_dict())
            self.encoder.load_state_dict(encoder.state_dict())

    def shuffled(self, phase: Phase) -> list[str]:
        seed = self.cfg.seed + phase.seed_offset + self.state[phase.counter]
        order = torch.randperm(len(self.data.train_names), generator=torch.Generator().manual_seed(seed))
        return [self.data.train_names[i] for i in order]

    def xe_step(self, batch: list[str]) -> tuple[float, float]:
        """One cross-entropy step -> (loss, cross-entropy)."""
        cfg = self.cfg
        self.decoder.train()
        self.encoder.train()
        self.set_lr(lr_factor(self.state["step"], self.steps_per_epoch * cfg.epochs, cfg))
        flipped = None
        if cfg.flip_prob > 0:
            # Seeded by the step, so a resumed run sees the same mirrored images.
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.state["step"])
            flipped = (torch.rand(len(batch), generator=gen) < cfg.flip_prob).tolist()
        inputs, captions, lengths, index = self.data.batch(batch, flipped)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.run.bf16):
            features = self.data.encode(self.encoder, inputs)
            logits, alphas = self.decoder(features, captions, lengths, index)
        loss, ce = caption_loss(logits.float(), captions, lengths, alphas.float(), cfg.alpha_c, cfg.label_smoothing)
        self.backward(loss)
        return loss.item(), ce.item()

    def scst_step(self, batch: list[str]) -> tuple[float, float]:
        """One self-critical step -> (loss, mean reward)."""
        cfg = self.cfg
        self.decoder.eval()      # sample without dropout; gradients still flow
        self.set_lr(cfg.scst_lr / cfg.lr)
        inputs = self.data.encode(self.encoder, self.data.features_for(batch) if self.data.features is not None
                                  else self.data.images(batch))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.run.bf16):
            loss, reward = scst_loss(self.decoder, inputs, batch, self.data.vocab, self.cider, k=cfg.scst_samples,
                                     max_len=cfg.max_words, top_p=cfg.scst_top_p)
        self.backward(loss)
        return loss.item(), reward

    def set_lr(self, factor: float) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * factor

    def backward(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.decoder.parameters(), self.cfg.clip)
        self.optimizer.step()

    def emit_step(self, phase: Phase, losses: list[tuple[float, float]]) -> None:
        recent = losses[-self.cfg.log_every:]
        self.run.emit("step", phase=phase.name, epoch=self.state[phase.counter] + 1, epochs=phase.epochs,
                      step=self.state["step"], total_steps=self.total_steps,
                      loss=float(np.mean([x[0] for x in recent])),
                      **{"ce" if phase.name == "xe" else "reward": float(np.mean([x[1] for x in recent]))},
                      lr=self.optimizer.param_groups[0]["lr"], elapsed_s=round(self.run.elapsed_s(), 1))

    def start_scst(self) -> None:
        """Start self-critical training from the best cross-entropy model (or, with no cross-entropy epochs,
        the init_from model already in the decoder, validated first as the bar to beat), fresh optimizer."""
        if not self.state["scst_started"]:
            if self.run.best.is_dir():
                _, best, _, _ = checkpoint.load_model(self.run.best)
                self.decoder.load_state_dict(best.state_dict())
            elif self.cfg.init_from:
                self.end_epoch(phases(self.cfg)[1], [])
            else:
                raise ValueError("SCST needs a cross-entropy model: train some epochs or pass init_from")
            self.optimizer.state.clear()
            self.state.update(scst_started=True, scst_epoch=0, step_in_epoch=0, bad_epochs=0)
        self.cider = CiderD({n: self.data.captions[n] for n in self.data.train_names})

    def end_epoch(self, phase: Phase, losses: list[tuple[float, float]]) -> bool:
        """Validate, keep the best model, log, save last/ -> True when early stopping triggers."""
        cfg, st = self.cfg, self.state
        val = validate(self.encoder, self.decoder, self.data, cfg)
        score = early_stop_score(val, cfg.early_stop_metric)
        improved = score > st["best"] or cfg.keep == "last"
        epoch = st[phase.counter]
        label = epoch if phase.name == "xe" else f"scst{epoch}"
        if improved:
            st.update(best=score, best_epoch=label, bad_epochs=0)
            checkpoint.save_model(self.run.best, self.decoder, self.data.vocab, self.encoder, dtype=torch.float32,
                                  metrics={"val": val, "epoch": label, "phase": phase.name, "command": cfg.command,
                                           "train_config": asdict(cfg)})
        else:
            st["bad_epochs"] += 1
        entry = {"epoch": label, "phase": phase.name, "val": val, "elapsed_s": round(self.run.elapsed_s(), 1),
                 "loss": float(np.mean([x[0] for x in losses])) if losses else None}
        st["history"].append(entry)
        with open(self.run.dir / "history.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.save_last()
        self.run.emit("epoch", phase=phase.name, epoch=epoch, epochs=phase.epochs, step=st["step"],
                      total_steps=self.total_steps, loss=entry["loss"], val=val, improved=improved, best=st["best"],
                      best_epoch=st["best_epoch"], elapsed_s=entry["elapsed_s"])
        return st["bad_epochs"] >= phase.patience

    def save_last(self) -> None:
        self.run.save_last(lambda d: checkpoint.write_model_files(
            d, "last", self.decoder, self.data.vocab, self.encoder, metrics={"history": self.state["history"]},
            dtype=torch.float32), self.optimizer, self.state)


def train_phase(t: CaptionTrainer, phase: Phase) -> str | None:
    """The epochs of one phase -> EARLY_STOPPED, CANCELLED or TIME_BUDGET, or None when they all ran."""
    cfg, st, run = t.cfg, t.state, t.run
    while st[phase.counter] < phase.epochs:
        names, losses = t.shuffled(phase), []
        for b in range(st["step_in_epoch"], t.steps_per_epoch):
            if status := run.interrupted():
                return status
            batch = names[b * cfg.batch_images:(b + 1) * cfg.batch_images]
            losses.append(t.xe_step(batch) if phase.name == "xe" else t.scst_step(batch))
            st["step_in_epoch"] = b + 1
            st["step"] += 1
            if st["step"] % cfg.log_every == 0 or b == t.steps_per_epoch - 1:
                t.emit_step(phase, losses)
            if run.checkpoint_due():
                t.save_last()
        st[phase.counter] += 1
        st["step_in_epoch"] = 0
        if t.end_epoch(phase, losses):
            return EARLY_STOPPED
    return None


def train(cfg: CaptionConfig, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> dict:
    """Train (or, with ``cfg.resume``, continue) a captioner in ``cfg.run_dir``; returns the done event.

    Step events carry ``phase`` ("xe" or "scst"), loss and ``ce`` (cross-entropy) or ``reward`` (SCST);
    epoch events ``val`` {bleu1..4, cider, distinct_words}, ``improved``, best and ``best_epoch``. A first run
    builds the feature cache and reports ``features`` events {done, total, seconds} as it goes.
    """
    run = Run(cfg, on_progress, should_stop)
    vocab, start = None, None
    if run.resuming:
        vocab = Vocab.load(run.last / "vocab.json")
    elif cfg.init_from:
        start, vocab = start_decoder(cfg)  # a fresh run keeps the start decoder's word ids
    try:
        data = CaptionData(cfg, vocab, run.on_progress, run.should_stop)
    except InterruptedError:
        return run.finish(CANCELLED, epoch=0, step=0, total_steps=0, best=None, best_epoch=None)
    if data.val_seen_in_training:
        run.emit("warning", message=f"{data.val_seen_in_training} of {len(data.val_names)} val images are also "
                 "training images: val scores are not held-out"
                 + ("; keep='best' picks the epoch that fits them best" if cfg.keep == "best" else ""))
    t = CaptionTrainer(cfg, run, data, start)
    cross_entropy, self_critical = phases(cfg)
    status = None
    if not t.state["xe_done"]:
        status = train_phase(t, cross_entropy)
        t.state["xe_done"] = status in (None, EARLY_STOPPED)
    if t.state["xe_done"] and cfg.scst_epochs:
        t.start_scst()
        status = train_phase(t, self_critical)
    if status not in (None, EARLY_STOPPED):
        t.save_last()
    inference = {"int8_decoder": cfg.export_int8, "bf16_encoder": True}
    return run.finish(status or FINISHED, export=lambda best, dst: export_best(best, dst, inference=inference),
                      epoch=t.state["epoch"], step=t.state["step"], total_steps=t.total_steps, best=t.state["best"],
                      best_epoch=t.state["best_epoch"])


def export_best(best_dir, export_dir, inference: dict | None = None) -> Path:
    """Re-save a (float32) run model as the float16 shipped model directory."""
    encoder, decoder, vocab, config = checkpoint.load_model(best_dir)
    metrics = json.loads((Path(best_dir) / "metrics.json").read_text())
    return checkpoint.save_model(export_dir, decoder, vocab, encoder, metrics=metrics, decode=config.get("decode"),
                                 inference={**config.get("inference", {}), **(inference or {})}, dtype=torch.float16)
