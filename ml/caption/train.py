"""Train the captioner on cached frozen MobileNetV2 features (or fine-tune the encoder's last blocks).

Usage from Python::

    from ml.caption.train import TrainConfig, train
    result = train(TrainConfig(max_epochs=10), on_progress=print, should_stop=lambda: False)

Run layout (``cfg.out_dir``)::

    last/    model dir (float32) + optimizer.safetensors + trainer.json   -> resume point
    best/    model dir (float32) of the best validation score so far
    history.jsonl   one JSON line per epoch

At the end the best model is exported as float16 to ``cfg.export_dir`` (when set).
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..cpu import effective_bf16
from . import checkpoint
from .data import default_data_dir, load_dataset, preprocess, read_split, split_file
from .decode import decode
from .decoder import AttentionDecoder, DecoderConfig, caption_loss
from .distill import load_extra_captions
from .encoder import Encoder
from .evaluate import score_captions
from .features import build_cache
from .vocab import Vocab

REPO = Path(__file__).resolve().parents[2]


@dataclass
class TrainConfig:
    data_dir: str = field(default_factory=lambda: str(default_data_dir()))
    train_split: str = field(default_factory=lambda: str(split_file("train")))
    val_split: str = field(default_factory=lambda: str(split_file("val")))
    out_dir: str = str(REPO / "var" / "runs" / "caption-flickr8k")
    export_dir: str | None = None          # float16 copy of the best model at the end
    export_int8: bool = True               # exported config turns on the int8 decoder (check quality!)
    cache_root: str | None = None          # default var/cache/caption-features
    # model
    min_freq: int = 5
    max_words: int = 20                    # training captions are cut to this many words
    embed_dim: int = 512
    hidden_dim: int = 512
    attention_dim: int = 512
    proj_dim: int = 512
    dropout: float = 0.5
    tie_weights: bool = True
    fine_tune_blocks: int = 0              # >0 also trains the encoder's last blocks
    cache_partial: bool = True             # ...from a cache of the map entering them (else from images)
    flip_prob: float = 0.0                 # chance a training image is seen mirrored ("left"<->"right"
                                           # swapped in its captions); needs frozen cached features
    extra_captions: str | None = None      # JSON of more training captions per image (a teacher's, from
                                           # ml.caption.distill); the vocabulary still comes from the human ones
    extra_captions_only: bool = False      # train on those captions instead of the human ones (sequence-level
                                           # distillation proper); images without any keep their human ones
    init_from: str | None = None           # model dir whose decoder (and vocabulary) a fresh run starts from
    # optimisation
    batch_images: int = 32                 # x5 captions per image
    lr: float = 4e-4
    encoder_lr: float = 1e-4
    warmup_steps: int = 200
    min_lr_ratio: float = 0.1              # cosine decay to lr * this at max_epochs
    grad_clip: float = 5.0
    alpha_c: float = 1.0                   # doubly stochastic attention weight
    label_smoothing: float = 0.1
    max_epochs: int = 10
    patience: int = 3                      # epochs without val improvement before stopping
    early_stop_metric: str = "cider"       # "cider", "bleu4" or "bleu4+cider" (their sum)
    keep: str = "best"                     # "best": keep the best val epoch, stop early; "last": a fixed
                                           # schedule (every epoch runs, the last is kept), for a final
                                           # model trained on the val images too, where val cannot judge
    val_beam: int = 3
    val_images: int = 0                    # 0 = the whole val split
    max_train_images: int = 0              # 0 = whole train split (smaller = smoke test)
    time_budget_s: float = 0.0             # stop cleanly (and export) after this; 0 = none
    checkpoint_every_s: float = 300.0
    seed: int = 8
    num_threads: int = 0                   # 0 = leave torch's default
    bf16: bool = True                      # bf16 autocast for the training pass (~2x on AVX512-BF16 CPUs;
                                           # ignored, with a warning, where the CPU would only emulate it)
    resume: bool = True
    # self-critical fine-tuning (CIDEr-D reward) after cross-entropy training; 0 = off
    scst_epochs: int = 0
    scst_lr: float = 2e-5
    scst_samples: int = 5
    scst_patience: int = 2
    scst_mode: str = "sample"              # "sample": sampled captions; "beam": the n-best as samples
    scst_top_p: float = 0.9                # "sample" mode: draw from the nucleus of this much probability
    scst_bleu_weight: float = 0.0          # "sample" mode: reward = CIDEr-D + this * sentence BLEU-4
    command: str = ""                      # recorded in metrics.json

    def decoder_config(self, vocab_size: int) -> DecoderConfig:
        return DecoderConfig(vocab_size=vocab_size, proj_dim=self.proj_dim, embed_dim=self.embed_dim,
                             hidden_dim=self.hidden_dim, attention_dim=self.attention_dim,
                             dropout=self.dropout, tie_weights=self.tie_weights)


class _Data:
    """Split names, encoded captions and (frozen) features or an image loader."""

    def __init__(self, cfg: TrainConfig, vocab: Vocab | None, on_progress=None, should_stop=None):
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
        extra = load_extra_captions(cfg.extra_captions) if cfg.extra_captions else {}
        if cfg.extra_captions_only and not extra:
            raise ValueError("extra_captions_only needs extra_captions")
        self.encoded = {n: [self.vocab.encode(c, cfg.max_words)
                            for c in _training_captions(caps[n], extra.get(n), cfg.extra_captions_only)]
                        for n in self.train_names}
        self.encoded_flipped = {n: [_swap_left_right(s, self.vocab) for s in seqs]
                                for n, seqs in self.encoded.items()}
        self.features = None
        # Fine-tuning the last blocks still runs from a cache: the map entering the first tuned block.
        self.partial = cfg.fine_tune_blocks > 0
        if cfg.fine_tune_blocks == 0 or cfg.cache_partial:
            cache = build_cache(self.images_dir, sorted(caps), cfg.cache_root,
                                upto_block=19 - cfg.fine_tune_blocks, on_progress=on_progress,
                                should_stop=should_stop)
            if cache.progress_done() < len(cache.names):
                raise InterruptedError("stopped while building the feature cache (it resumes next time)")
            self.features = {"train": cache.stack(self.train_names), "val": cache.stack(self.val_names)}
            if cfg.flip_prob > 0:
                if cfg.fine_tune_blocks:
                    raise ValueError("flip_prob needs frozen features (fine_tune_blocks = 0)")
                mirrored = build_cache(self.images_dir, self.train_names, cfg.cache_root, hflip=True,
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


def _training_captions(human: list[str], extra: list[str] | None, extra_only: bool) -> list[str]:
    if not extra:
        return human
    return extra if extra_only else human + extra


def _swap_left_right(seq: list[int], vocab: Vocab) -> list[int]:
    """Caption ids of the mirrored image: "left" and "right" trade places."""
    left, right = vocab.stoi.get("left"), vocab.stoi.get("right")
    swap = {left: right, right: left} if left is not None and right is not None else {}
    return [swap.get(t, t) for t in seq]


def _lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


EARLY_STOP_METRICS = ("cider", "bleu4", "bleu4+cider")
KEEP_CHOICES = ("best", "last")


def early_stop_score(val: dict, metric: str) -> float:
    """The number a run keeps its best model by: one val metric, or BLEU-4 + CIDEr when both matter."""
    if metric not in EARLY_STOP_METRICS:
        raise ValueError(f"early_stop_metric must be one of {EARLY_STOP_METRICS}, got {metric!r}")
    return sum(val[m] for m in metric.split("+"))


def validate(encoder, decoder, data: _Data, cfg: TrainConfig, batch: int = 100) -> dict:
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


def _save_last(run: Path, encoder, decoder, vocab, optimizer, state: dict) -> None:
    last = checkpoint.save_model(run / "last", decoder, vocab, encoder, dtype=torch.float32,
                                 metrics={"history": state["history"]})
    flat = {}
    for idx, s in optimizer.state_dict()["state"].items():
        for k, v in s.items():
            flat[f"{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    save_file({k: v.contiguous() for k, v in flat.items()}, str(last / "optimizer.safetensors"))
    (last / "trainer.json").write_text(json.dumps(state, indent=2))


def _load_last(run: Path, encoder, decoder, optimizer) -> dict | None:
    last = run / "last"
    if not (last / "trainer.json").is_file():
        return None
    enc, dec, _, _ = checkpoint.load_model(last)
    decoder.load_state_dict(dec.state_dict())
    encoder.load_state_dict(enc.state_dict())
    opt_state = optimizer.state_dict()
    flat = load_file(str(last / "optimizer.safetensors"))
    state: dict = {}
    for key, v in flat.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt_state["state"] = state
    optimizer.load_state_dict(opt_state)
    return json.loads((last / "trainer.json").read_text())


def _start_decoder(cfg: TrainConfig) -> tuple[AttentionDecoder, Vocab]:
    """``cfg.init_from``'s decoder and vocabulary (a single frozen-encoder model)."""
    _, start, vocab, config = checkpoint.load_model(cfg.init_from)
    if not isinstance(start, AttentionDecoder):
        raise ValueError(f"{cfg.init_from}: start from a single model, not an ensemble")
    if config["encoder"].get("fine_tune_blocks"):
        raise ValueError(f"{cfg.init_from}: start from a model whose encoder was not fine-tuned")
    return start, vocab


def _init_decoder(decoder: AttentionDecoder, start: AttentionDecoder, cfg: TrainConfig) -> None:
    """Copy ``start``'s weights into ``decoder``; their sizes must match (dropout may differ)."""
    sizes = ("vocab_size", "feature_dim", "proj_dim", "embed_dim", "hidden_dim", "attention_dim", "tie_weights")
    theirs, ours = ({k: getattr(c, k) for k in sizes} for c in (start.cfg, decoder.cfg))
    if theirs != ours:
        raise ValueError(f"{cfg.init_from}: decoder sizes {theirs} differ from this run's {ours}")
    decoder.load_state_dict(start.state_dict())


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(cfg: TrainConfig, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> dict:
    """Train, early-stop on val ``cfg.early_stop_metric``, export the best model.

    ``on_progress(dict)`` gets ``{"event": "step", "epoch", "epochs", "step", "total_steps",
    "loss", "ce", "lr", "elapsed_s"}`` every few steps and ``{"event": "epoch", ..., "val":
    {bleu1..4, cider, distinct_words}, "best": float, "best_epoch"}`` after each epoch, then
    ``{"event": "done", "status": "finished"|"early_stopped"|"stopped"|"time_budget", ...}``.
    A first run builds the feature cache first and reports ``{"event": "features", "done", "total",
    "seconds"}`` per batch of images; SCST steps carry ``"reward"`` instead of ``"ce"``.
    ``should_stop()`` is checked before every step; a stop saves ``last/`` (resumable).
    Returns the final progress dict plus ``"best_dir"`` and ``"export_dir"``.
    """
    if cfg.keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, not {cfg.keep!r}")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    _seed_everything(cfg.seed)
    run = Path(cfg.out_dir)
    run.mkdir(parents=True, exist_ok=True)
    emit = on_progress or (lambda d: None)
    stop = should_stop or (lambda: False)
    use_bf16, bf16_warning = effective_bf16(cfg.bf16)
    if bf16_warning:
        emit({"event": "warning", "message": bf16_warning})

    resume_vocab, start = None, None
    if cfg.resume and (run / "last" / "trainer.json").is_file():
        resume_vocab = Vocab.load(run / "last" / "vocab.json")
    elif cfg.init_from:
        start, resume_vocab = _start_decoder(cfg)  # a fresh run keeps the start decoder's word ids
    try:
        data = _Data(cfg, resume_vocab, emit, stop)
    except InterruptedError:
        result = {"event": "done", "status": "stopped", "epoch": 0, "step": 0, "total_steps": 0,
                  "best": None, "best_epoch": None, "elapsed_s": 0.0, "best_dir": None, "export_dir": None}
        emit(result)
        return result
    if data.val_seen_in_training:
        emit({"event": "warning", "message": f"{data.val_seen_in_training} of {len(data.val_names)} val images "
              "are also training images: val scores are not held-out"
              + ("; keep='best' picks the epoch that fits them best" if cfg.keep == "best" else "")})
    decoder = AttentionDecoder(cfg.decoder_config(len(data.vocab)))
    if start is not None:
        _init_decoder(decoder, start, cfg)
    encoder = Encoder(pretrained=True, fine_tune_blocks=cfg.fine_tune_blocks)
    groups = [{"params": [p for p in decoder.parameters() if p.requires_grad], "lr": cfg.lr}]
    enc_params = [p for p in encoder.parameters() if p.requires_grad]
    if enc_params:
        groups.append({"params": enc_params, "lr": cfg.encoder_lr})
    optimizer = torch.optim.Adam(groups)
    base_lrs = [g["lr"] for g in groups]

    steps_per_epoch = math.ceil(len(data.train_names) / cfg.batch_images)
    total_steps = steps_per_epoch * cfg.max_epochs
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best": -1.0, "best_epoch": -1,
             "bad_epochs": 0, "history": [], "elapsed_s": 0.0, "config": asdict(cfg)}
    if cfg.resume:
        loaded = _load_last(run, encoder, decoder, optimizer)
        if loaded:
            state.update({k: v for k, v in loaded.items() if k != "config"})
            emit({"event": "resumed", "epoch": state["epoch"], "step": state["global_step"]})

    t_start = time.time() - state["elapsed_s"]
    ctx = _Loop(cfg, run, data, encoder, decoder, optimizer, base_lrs, state, emit, stop, t_start,
                steps_per_epoch, total_steps, use_bf16)
    xe_done = state.get("xe_done") or state["epoch"] >= cfg.max_epochs or state["bad_epochs"] >= cfg.patience
    status = "finished" if xe_done else ctx.run_phase("xe")
    if status in ("finished", "early_stopped") and cfg.scst_epochs:
        status = ctx.run_phase("scst")
    if status in ("stopped", "time_budget"):
        _save_last(run, encoder, decoder, data.vocab, optimizer, state)
    result = {"event": "done", "status": status, "epoch": state["epoch"], "step": state["global_step"],
              "total_steps": ctx.total_steps, "best": state["best"], "best_epoch": state["best_epoch"],
              "elapsed_s": round(time.time() - t_start, 1), "best_dir": None, "export_dir": None}
    if (run / "best" / "config.json").is_file():
        result["best_dir"] = str(run / "best")
        if cfg.export_dir and status != "stopped":
            result["export_dir"] = str(export_best(run / "best", cfg.export_dir,
                                                   inference={"int8_decoder": cfg.export_int8,
                                                              "bf16_encoder": True}))
    emit(result)
    return result


class _Loop:
    """The epoch loop shared by cross-entropy ("xe") and self-critical ("scst") training."""

    def __init__(self, cfg, run, data, encoder, decoder, optimizer, base_lrs, state, emit, stop, t_start,
                 steps_per_epoch, total_steps, bf16):
        self.__dict__.update(locals())
        del self.__dict__["self"]
        self.total_steps = total_steps + steps_per_epoch * cfg.scst_epochs
        self.cider = None

    def _budget_left(self) -> bool:
        return not self.cfg.time_budget_s or time.time() - self.t_start <= self.cfg.time_budget_s

    def run_phase(self, phase: str) -> str:
        cfg, state = self.cfg, self.state
        if phase == "scst":
            self._start_scst()
        epochs = cfg.max_epochs if phase == "xe" else cfg.scst_epochs
        key = "epoch" if phase == "xe" else "scst_epoch"
        last_save = time.time()
        while state.get(key, 0) < epochs:
            epoch = state.get(key, 0)
            seed = cfg.seed + epoch + (1000 if phase == "scst" else 0)
            order = torch.randperm(len(self.data.train_names), generator=torch.Generator().manual_seed(seed))
            names = [self.data.train_names[i] for i in order]
            running = []
            for b in range(state["step_in_epoch"], self.steps_per_epoch):
                if self.stop():
                    return "stopped"
                if not self._budget_left():
                    return "time_budget"
                batch = names[b * cfg.batch_images:(b + 1) * cfg.batch_images]
                running.append(self._xe_step(batch) if phase == "xe" else self._scst_step(batch))
                state["step_in_epoch"] = b + 1
                state["global_step"] += 1
                state["elapsed_s"] = time.time() - self.t_start
                if state["global_step"] % 10 == 0 or b == self.steps_per_epoch - 1:
                    self._emit_step(phase, epoch, epochs, running)
                if time.time() - last_save > cfg.checkpoint_every_s:
                    _save_last(self.run, self.encoder, self.decoder, self.data.vocab, self.optimizer, state)
                    last_save = time.time()
            state[key] = epoch + 1
            state["step_in_epoch"] = 0
            if self._end_epoch(phase, epoch + 1, epochs, running):
                return "early_stopped"
            last_save = time.time()
        if phase == "xe":
            state["xe_done"] = True
        return "finished"

    def _xe_step(self, batch):
        cfg = self.cfg
        self.decoder.train()
        self.encoder.train()
        self._set_lr(_lr_factor(self.state["global_step"], self.steps_per_epoch * cfg.max_epochs, cfg))
        flipped = None
        if cfg.flip_prob > 0:
            # Seeded by the step, so a resumed run sees the same mirrored images.
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.state["global_step"])
            flipped = (torch.rand(len(batch), generator=gen) < cfg.flip_prob).tolist()
        inputs, captions, lengths, index = self.data.batch(batch, flipped)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            features = self.data.encode(self.encoder, inputs)
            logits, alphas = self.decoder(features, captions, lengths, index)
        loss, ce = caption_loss(logits.float(), captions, lengths, alphas.float(), cfg.alpha_c,
                                cfg.label_smoothing)
        self._backward(loss)
        return loss.item(), ce.item()

    def _scst_step(self, batch):
        from .scst import scst_beam_loss, scst_loss

        cfg = self.cfg
        self.decoder.eval()      # sample without dropout; gradients still flow
        self._set_lr(cfg.scst_lr / cfg.lr)
        inputs = self.data.encode(self.encoder, self.data.features_for(batch) if self.data.features is not None
                                  else self.data.images(batch))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            fn, extra = ((scst_beam_loss, {}) if cfg.scst_mode == "beam" else
                         (scst_loss, {"top_p": cfg.scst_top_p, "bleu_weight": cfg.scst_bleu_weight}))
            loss, reward = fn(self.decoder, inputs, batch, self.data.vocab, self.cider,
                              k=cfg.scst_samples, max_len=cfg.max_words, **extra)
        self._backward(loss)
        return loss.item(), reward

    def _set_lr(self, factor):
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * factor

    def _backward(self, loss):
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.decoder.parameters(), self.cfg.grad_clip)
        self.optimizer.step()

    def _emit_step(self, phase, epoch, epochs, running):
        recent = running[-10:]
        second = "ce" if phase == "xe" else "reward"
        self.emit({"event": "step", "phase": phase, "epoch": epoch + 1, "epochs": epochs,
                   "step": self.state["global_step"], "total_steps": self.total_steps,
                   "loss": float(np.mean([x[0] for x in recent])),
                   second: float(np.mean([x[1] for x in recent])),
                   "lr": self.optimizer.param_groups[0]["lr"], "elapsed_s": round(self.state["elapsed_s"], 1)})

    def _start_scst(self):
        from .scst import CiderD

        state = self.state
        if not state.get("scst_started"):
            # Start from the best cross-entropy model (or, with no cross-entropy epochs, the
            # init_from model already in self.decoder), with a fresh optimizer.
            if (self.run / "best" / "config.json").is_file():
                _, best, _, _ = checkpoint.load_model(self.run / "best")
                self.decoder.load_state_dict(best.state_dict())
            elif self.cfg.init_from:
                self._end_epoch("scst", 0, self.cfg.scst_epochs, [])   # the start model is the bar to beat
            else:
                raise ValueError("SCST needs a cross-entropy model: train some epochs or pass init_from")
            self.optimizer.state.clear()
            state.update(scst_started=True, scst_epoch=0, step_in_epoch=0, bad_epochs=0)
        self.cider = CiderD({n: self.data.captions[n] for n in self.data.train_names})

    def _end_epoch(self, phase, epoch, epochs, running) -> bool:
        """Validate, keep the best model, log; True when early stopping triggers."""
        cfg, state = self.cfg, self.state
        val = validate(self.encoder, self.decoder, self.data, cfg)
        score = early_stop_score(val, cfg.early_stop_metric)
        improved = score > state["best"] or cfg.keep == "last"
        label = epoch if phase == "xe" else f"scst{epoch}"
        if improved:
            state.update(best=score, best_epoch=label, bad_epochs=0)
            checkpoint.save_model(self.run / "best", self.decoder, self.data.vocab, self.encoder,
                                  dtype=torch.float32,
                                  metrics={"val": val, "epoch": label, "phase": phase, "command": cfg.command,
                                           "train_config": asdict(cfg)})
        else:
            state["bad_epochs"] += 1
        entry = {"epoch": label, "phase": phase, "loss": float(np.mean([x[0] for x in running])) if running else None,
                 "val": val, "elapsed_s": round(time.time() - self.t_start, 1)}
        state["history"].append(entry)
        with open(self.run / "history.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        state["elapsed_s"] = time.time() - self.t_start
        _save_last(self.run, self.encoder, self.decoder, self.data.vocab, self.optimizer, state)
        self.emit({"event": "epoch", "phase": phase, "epoch": epoch, "epochs": epochs,
                   "step": state["global_step"], "total_steps": self.total_steps, "loss": entry["loss"],
                   "val": val, "improved": improved, "best": state["best"], "best_epoch": state["best_epoch"],
                   "elapsed_s": round(state["elapsed_s"], 1)})
        patience = cfg.patience if phase == "xe" else cfg.scst_patience
        return state["bad_epochs"] >= patience


def export_best(best_dir, export_dir, manifest: dict | None = None, extra_metrics: dict | None = None,
                decode: dict | None = None, inference: dict | None = None) -> Path:
    """Re-save a (float32) run model as the float16 shipped model directory."""
    encoder, decoder, vocab, config = checkpoint.load_model(best_dir)
    metrics = json.loads((Path(best_dir) / "metrics.json").read_text())
    metrics.update(extra_metrics or {})
    return checkpoint.save_model(export_dir, decoder, vocab, encoder, metrics=metrics,
                                 manifest=manifest, decode={**config.get("decode", {}), **(decode or {})},
                                 inference={**config.get("inference", {}), **(inference or {})},
                                 dtype=torch.float16)
