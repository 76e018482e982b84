"""Training loop: truncated BPTT, gradient clipping, LR schedule, weight averaging, early stopping,
checkpoint + resume from the run directory.

    from ml.lm.train import TrainConfig, train
    result = train(TrainConfig(corpus="ptb", cell="gru", epochs=3), "var/runs/ptb-gru",
                   on_progress=print, should_stop=lambda: False)

Run dir layout:
    <run>/last/   resumable state: weights/ema/optim .safetensors + state.json (written every
                  ``checkpoint_minutes``, at every epoch end, on cancel and on budget exhaustion)
    <run>/best/   model directory (see checkpoint.py) of the best validation perplexity so far
    <run>/train_config.json
"""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from ..cpu import effective_bf16
from . import checkpoint as ckpt
from .corpus import batchify, get_batch, load_corpus
from .model import CELLS, INITS, RNNModel, repackage_hidden

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("plateau", "cosine", "constant")


@dataclass
class TrainConfig:
    """Every knob of a training run. Defaults are the shipped PTB LSTM recipe."""
    corpus: str = "ptb"               # 'ptb' | 'shakespeare' | 'text:PATH'
    cell: str = "lstm"                # 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru'
    emsize: int = 650
    nhid: int = 650
    nlayers: int = 2
    dropout_emb: float = 0.4          # locked dropout on embeddings
    dropout_hid: float = 0.3          # locked dropout between layers
    dropout_out: float = 0.4          # locked dropout before the decoder
    dropout_weight: float = 0.0       # DropConnect on hidden-to-hidden weights (AWD-LSTM weight drop)
    tie_weights: bool = True
    init: str = "xavier"              # 'xavier' | 'orthogonal' | 'default'
    batch_size: int = 64
    bptt: int = 35                    # truncated-BPTT window k
    eval_batch_size: int = 10
    optimizer: str = "adam"           # 'sgd' | 'adam'
    lr: float = 2e-3
    weight_decay: float = 1.2e-6
    clip: float = 0.25                # max global grad norm
    schedule: str = "plateau"         # 'plateau' | 'cosine' | 'constant'
    lr_decay: float = 0.25            # plateau: lr *= lr_decay when valid ppl stops improving
    min_lr: float = 1e-5
    warmup_steps: int = 100
    ema: float = 0.999                # weight averaging decay (0 = off); eval + checkpoints use averaged weights
    ema_warmup: bool = True           # short warm-up of the average (off: keep a warm start's weights at full decay)
    epochs: int = 40
    patience: int = 3                 # early stop after this many epochs without valid improvement
    validate_every: int = 0           # also validate every N steps inside an epoch (0 = at epoch ends only)
    validate_from: int = 0            # ...starting at this step (mid-epoch checks are ~10 s each on PTB)
    target_ppl: float = 0.0           # stop as soon as validation perplexity is <= this (0 = off)
    max_minutes: float = 0.0          # wall-clock budget for this invocation (0 = none); stops resumably
    bf16: bool = False                # bf16 autocast for the decoder/softmax matmuls (eval stays float32)
    bf16_rnn: bool = False            # also run the recurrent layers under bf16 autocast
    threads: int = 0                  # torch.set_num_threads (0 = leave as is)
    seed: int = 1111
    log_every: int = 50               # steps between on_progress calls
    checkpoint_minutes: float = 5.0
    init_from: str = ""               # warm start: load weights from a model dir (e.g. a shipped float16 one)
    slot: str = ""                    # manifest fields for the web app
    label: str = ""

    def validate(self) -> "TrainConfig":
        checks = [
            (self.cell in CELLS, f"cell must be one of {CELLS}"),
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be >= 1"),
            (self.bptt >= 1, "bptt must be >= 1"),
            (self.lr > 0, "lr must be > 0"),
            (self.clip > 0, "clip must be > 0"),
            (0 < self.lr_decay <= 1, "lr_decay must be in (0, 1]"),
            (0 <= self.ema < 1, "ema must be in [0, 1)"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.validate_every >= 0 and self.validate_from >= 0, "validate_every/validate_from must be >= 0"),
            (self.target_ppl >= 0, "target_ppl must be >= 0 (0 = off)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def model_kwargs(self, ntoken: int) -> dict:
        return dict(ntoken=ntoken, cell=self.cell, emsize=self.emsize, nhid=self.nhid, nlayers=self.nlayers,
                    dropout_emb=self.dropout_emb, dropout_hid=self.dropout_hid, dropout_out=self.dropout_out,
                    tie_weights=self.tie_weights, init=self.init, dropout_weight=self.dropout_weight)


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(model: RNNModel, data: torch.Tensor, bptt: int = 35) -> tuple[float, int]:
    """Batched ids (N, B) -> (mean NLL per token in nats, tokens scored). Hidden state carried across windows."""
    was_training = model.training
    model.eval()
    hidden = model.init_hidden(data.size(1))
    total, count = 0.0, 0
    for i in range(0, data.size(0) - 1, bptt):
        x, y = get_batch(data, i, bptt)
        loss, hidden = model.loss(x, y, hidden)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1), count


def train_loss(model: RNNModel, x: torch.Tensor, y: torch.Tensor, hidden: list, cfg: TrainConfig):
    """Mean NLL for one window. The 10k-way decoder is the biggest matmul, so it is what bf16 speeds up
    most; the recurrence stays float32 unless bf16_rnn, since its state is carried across windows."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16 and cfg.bf16_rnn):
        h, hidden = model.features(x, hidden)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        logits = model.decoder(h)
    loss = torch.nn.functional.cross_entropy(logits.float().view(-1, model.ntoken), y.reshape(-1))
    return loss, [tuple(t.float() for t in s) if isinstance(s, tuple) else s.float() for s in hidden]


def make_optimizer(cfg: TrainConfig, model: RNNModel) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


class EMA:
    """Exponential moving average of parameters (Polyak averaging); cheap relative to a BPTT step."""

    def __init__(self, model: RNNModel, decay: float, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup  # off suits warm starts: the loaded weights are already a good average
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.updates = 0

    @torch.no_grad()
    def update(self, model: RNNModel) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates)) if self.warmup else self.decay
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)

    def swap(self, model: RNNModel) -> None:
        """Exchange the live and averaged weights (call twice to undo)."""
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        self.shadow = live


def lr_at(cfg: TrainConfig, base_lr: float, step: int, total_steps: int) -> float:
    """LR for the step: linear warm-up, then ``base_lr`` (plateau/constant) or cosine to min_lr."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    if cfg.schedule == "cosine":
        t = min(1.0, step / max(1, total_steps))
        return warm * (cfg.min_lr + 0.5 * (base_lr - cfg.min_lr) * (1 + math.cos(math.pi * t)))
    return warm * base_lr


def _save_last(run: Path, model, ema, opt, hidden, state: dict) -> None:
    last = run / "last"
    tmp = run / "last.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(ckpt.model_tensors(model), str(tmp / "weights.safetensors"))
    if ema is not None:
        shadow = dict(ema.shadow)
        if model.tie_weights:
            shadow.pop("decoder.weight", None)
        save_file({k: v.contiguous() for k, v in shadow.items()}, str(tmp / "ema.safetensors"))
    otensors, oscalars = ckpt.optimizer_tensors(opt)
    flat_h = {}
    for i, h in enumerate(hidden):
        for j, t in enumerate(h if isinstance(h, tuple) else (h,)):
            flat_h[f"hidden.{i}.{j}"] = t.detach().contiguous()
    otensors.update(flat_h)
    otensors["rng.torch"] = torch.get_rng_state()
    save_file(otensors, str(tmp / "optim.safetensors"))
    ckpt._write_json(tmp / "state.json", {**state, "optimizer": oscalars, "python_rng": list(random.getstate()[1]),
                                          "python_rng_pos": random.getstate()[2]})
    old = run / "last.old"
    if last.exists():
        os.replace(last, old)
    os.replace(tmp, last)
    if old.exists():
        import shutil
        shutil.rmtree(old, ignore_errors=True)


def _load_last(run: Path, model, ema, opt, hidden):
    last = run / "last"
    state = ckpt.read_json(last / "state.json")
    ckpt.load_model_tensors(model, load_file(str(last / "weights.safetensors")))
    if ema is not None and (last / "ema.safetensors").is_file():
        shadow = load_file(str(last / "ema.safetensors"))
        if model.tie_weights:
            shadow["decoder.weight"] = shadow["encoder.weight"]
        ema.shadow = {k: shadow[k].clone() for k in model.state_dict()}
        ema.updates = state.get("ema_updates", 0)
    tensors = load_file(str(last / "optim.safetensors"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    random.setstate((3, tuple(state["python_rng"]), state["python_rng_pos"]))
    new_hidden = []
    for i, h in enumerate(hidden):
        if isinstance(h, tuple):
            new_hidden.append(tuple(tensors.pop(f"hidden.{i}.{j}") for j in range(len(h))))
        else:
            new_hidden.append(tensors.pop(f"hidden.{i}.0"))
    ckpt.load_optimizer_tensors(opt, tensors, state["optimizer"])
    return state, new_hidden


def train(cfg: TrainConfig, run_dir: str | Path, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None, resume: bool = False, command: str = "",
          corpus=None) -> dict:
    """Train (or resume) a word LM into ``run_dir``; returns the final metrics dict.

    on_progress(dict) gets, every ``log_every`` steps: event='step', epoch, step, total_steps, loss, ppl,
    tokens_per_s, grad_norm, lr, elapsed_s; at each epoch end: event='epoch' with the same keys plus
    valid_ppl, best_valid_ppl (also after each mid-epoch validation, with partial=True); at the end:
    event='done' with status ('finished', 'early_stopped', 'target_reached', 'budget', 'cancelled' or
    'diverged') and the final metrics; event='warning' with a message when a setting was overridden.
    should_stop() is polled every step; when it returns True the run saves ``last/`` and returns
    with status 'cancelled' (resumable). ``corpus`` may be passed to skip loading (tests).
    """
    cfg.validate()
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    emit = on_progress or (lambda d: None)
    stop = should_stop or (lambda: False)
    if resume and (run / "train_config.json").is_file():
        saved = TrainConfig.from_dict(ckpt.read_json(run / "train_config.json"))
        # The saved config wins; budget/logging knobs and the LR may be changed by passing a non-default
        # value (a new --lr replaces the current base LR: a manual anneal step).
        defaults = TrainConfig()
        new_lr = cfg.lr if cfg.lr != defaults.lr else None
        for k in ("max_minutes", "threads", "log_every", "checkpoint_minutes", "epochs", "patience", "lr",
                  "validate_every", "validate_from", "target_ppl"):
            if getattr(cfg, k) != getattr(defaults, k):
                setattr(saved, k, getattr(cfg, k))
        cfg = saved
    else:
        new_lr = None
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    use_bf16, bf16_warning = effective_bf16(cfg.bf16)
    if bf16_warning:
        emit({"event": "warning", "message": bf16_warning})
    step_cfg = replace(cfg, bf16=use_bf16, bf16_rnn=cfg.bf16_rnn and use_bf16)  # what the steps really use
    set_seed(cfg.seed)
    corpus = corpus or load_corpus(cfg.corpus)
    vocab = corpus.vocab
    train_data = batchify(corpus.ids["train"], cfg.batch_size)
    valid_data = batchify(corpus.ids["valid"], cfg.eval_batch_size)
    model = RNNModel(**cfg.model_kwargs(len(vocab)))
    if cfg.init_from:
        # Continuing from a shipped model when the run dir (optimizer state) is gone, e.g. on a fresh checkout.
        src, src_vocab, _ = ckpt.load_model_dir(cfg.init_from)
        if not ckpt.same_shape(src, src_vocab, model, vocab):
            raise ValueError(f"init_from {cfg.init_from}: architecture or vocab differs from this config")
        # Dropouts may differ: warm-starting with stronger regularisation is the point of this option.
        model.load_state_dict(src.state_dict())
        model.train()
    opt = make_optimizer(cfg, model)
    ema = EMA(model, cfg.ema, warmup=cfg.ema_warmup) if cfg.ema > 0 else None
    steps_per_epoch = math.ceil((train_data.size(0) - 1) / cfg.bptt)
    total_steps = steps_per_epoch * cfg.epochs
    hidden = model.init_hidden(cfg.batch_size)
    st = {"epoch": 1, "batch_pos": 0, "step": 0, "base_lr": cfg.lr, "best_valid_ppl": None,
          "bad_epochs": 0, "history": [], "train_wall_s": 0.0, "valid_wall_s": 0.0, "ema_updates": 0,
          "status": "running"}
    if resume and (run / "last" / "state.json").is_file():
        st, hidden = _load_last(run, model, ema, opt, hidden)
        if new_lr is not None:
            st["base_lr"] = new_lr
            st["bad_epochs"] = 0
        emit({"event": "resumed", "epoch": st["epoch"], "step": st["step"], "total_steps": total_steps})
    if "commands" not in st:  # runs started before this field existed: recover the first command
        best_metrics = run / "best" / "metrics.json"
        first = ckpt.read_json(best_metrics).get("command") if best_metrics.is_file() else None
        st["commands"] = [first] if first and first != command else []
    if command:
        st["commands"].append(command)
    ckpt._write_json(run / "train_config.json", asdict(cfg))
    manifest = {"slot": cfg.slot or run.name, "label": cfg.label or run.name, "corpus": cfg.corpus,
                "corpus_description": corpus.description, "train": asdict(cfg),
                "tokenizer": {"name": "unroll-word/1", "newline_eos": True}}

    def save_best(valid_ppl):
        metrics = {"valid_ppl": valid_ppl, "epoch": st["epoch"], "step": st["step"], "command": command,
                   "commands": st["commands"],  # every invocation (start + resumes) that made this model
                   "train_wall_s": round(st["train_wall_s"], 1), "history": st["history"],
                   "tokens_per_s": st.get("tokens_per_s")}
        ckpt.save_model_dir(run / "best", model, vocab, manifest, metrics)

    def validate_now(lr: float, partial: bool) -> float:
        """Validation perplexity of the averaged weights; logs it and keeps best/ up to date."""
        t0 = time.time()
        if ema is not None:
            ema.swap(model)
        valid_ppl = math.exp(evaluate(model, valid_data, cfg.bptt)[0])
        entry = {"epoch": st["epoch"], "step": st["step"], "valid_ppl": round(valid_ppl, 3), "lr": lr,
                 "train_wall_s": round(st["train_wall_s"], 1), "tokens_per_s": st.get("tokens_per_s")}
        if partial:
            entry.update(epoch=round(st["epoch"] - 1 + st["batch_pos"] / train_data.size(0), 3), partial_epoch=True)
        st["history"].append(entry)
        if st["best_valid_ppl"] is None or valid_ppl < st["best_valid_ppl"]:
            st["best_valid_ppl"] = valid_ppl
            save_best(valid_ppl)
        if ema is not None:
            ema.swap(model)
        st["valid_wall_s"] = st.get("valid_wall_s", 0.0) + time.time() - t0
        emit({"event": "epoch", "epoch": st["epoch"], "step": st["step"], "total_steps": total_steps,
              "loss": math.log(valid_ppl), "ppl": valid_ppl, "tokens_per_s": st.get("tokens_per_s") or 0.0,
              "grad_norm": grad_norm, "lr": lr, "elapsed_s": st["train_wall_s"], "valid_ppl": valid_ppl,
              "best_valid_ppl": st["best_valid_ppl"], **({"partial": True} if partial else {})})
        return valid_ppl

    def target_reached(valid_ppl: float) -> bool:
        return bool(cfg.target_ppl) and valid_ppl <= cfg.target_ppl

    t_start = time.time()
    wall_at_start = st["train_wall_s"]
    last_ckpt = time.time()
    status = "finished"
    grad_norm, lr = 0.0, st["base_lr"]
    model.train()
    while st["epoch"] <= cfg.epochs and status == "finished":
        win_loss, win_tokens, win_t0 = 0.0, 0, time.time()
        while st["batch_pos"] < train_data.size(0) - 1:
            x, y = get_batch(train_data, st["batch_pos"], cfg.bptt)
            lr = lr_at(cfg, st["base_lr"], st["step"], total_steps)
            for g in opt.param_groups:
                g["lr"] = lr
            hidden = repackage_hidden(hidden)
            loss, hidden = train_loss(model, x, y, hidden, step_cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip))
            if math.isfinite(grad_norm):
                opt.step()  # a non-finite gradient would poison the weights: skip that step
            if ema is not None:
                ema.update(model)
                st["ema_updates"] = ema.updates
            st["batch_pos"] += x.size(0)
            st["step"] += 1
            win_loss += loss.item() * y.numel()
            win_tokens += y.numel()
            st["train_wall_s"] = wall_at_start + time.time() - t_start
            if st["step"] % cfg.log_every == 0:
                dt = max(time.time() - win_t0, 1e-9)
                mean = win_loss / win_tokens
                st["tokens_per_s"] = round(win_tokens / dt, 1)
                emit({"event": "step", "epoch": st["epoch"], "step": st["step"], "total_steps": total_steps,
                      "loss": mean, "ppl": math.exp(min(mean, 50)), "tokens_per_s": win_tokens / dt,
                      "grad_norm": grad_norm, "lr": lr, "elapsed_s": st["train_wall_s"]})
                win_loss, win_tokens, win_t0 = 0.0, 0, time.time()
            if not math.isfinite(loss.item()):
                status = "diverged"
                break
            if (cfg.validate_every and st["step"] >= cfg.validate_from and st["step"] % cfg.validate_every == 0
                    and st["batch_pos"] < train_data.size(0) - 1):
                if target_reached(validate_now(lr, partial=True)):
                    status = "target_reached"
                    break
            if stop():
                status = "cancelled"
                break
            if cfg.max_minutes and time.time() - t_start > cfg.max_minutes * 60:
                status = "budget"
                break
            if time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
                _save_last(run, model, ema, opt, hidden, st)
                last_ckpt = time.time()
        if status != "finished":
            break
        # ---- epoch end: validate (with averaged weights), schedule, checkpoint
        best = st["best_valid_ppl"]
        valid_ppl = validate_now(lr, partial=False)
        improved = best is None or valid_ppl < best * 0.995
        st["bad_epochs"] = 0 if improved else st["bad_epochs"] + 1
        if not improved and cfg.schedule == "plateau":
            st["base_lr"] = max(cfg.min_lr, st["base_lr"] * cfg.lr_decay)
        st["epoch"] += 1
        st["batch_pos"] = 0
        hidden = model.init_hidden(cfg.batch_size)
        if st["bad_epochs"] >= cfg.patience:
            status = "early_stopped"
        if target_reached(valid_ppl):
            status = "target_reached"
        _save_last(run, model, ema, opt, hidden, st)
        last_ckpt = time.time()
    stopped_mid_epoch = st["batch_pos"] > 0  # epoch ends already validated and saved last/
    if status == "budget" and stopped_mid_epoch:
        validate_now(lr, partial=True)  # a budget stop mid-epoch still validates: short runs leave a best/
    if stopped_mid_epoch:
        _save_last(run, model, ema, opt, hidden, st)
    st["status"] = status
    result = {"status": status, "best_valid_ppl": st["best_valid_ppl"], "epoch": st["epoch"], "step": st["step"],
              "train_wall_s": round(st["train_wall_s"], 1), "valid_wall_s": round(st.get("valid_wall_s", 0.0), 1),
              "history": st["history"], "run_dir": str(run),
              "best_dir": str(run / "best") if (run / "best").exists() else None}
    emit({"event": "done", **result})
    return result
