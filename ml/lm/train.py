"""Train a word LM: truncated BPTT, gradient clipping, LR schedule, weight averaging, early stopping.

    from ml.lm.train import LMConfig, train
    result = train(LMConfig(corpus="ptb", cell="gru", epochs=3, run_dir="var/runs/ptb-gru"), on_progress=print)

The run directory, progress events, final statuses and resume follow ml.training; last/ and best/ are LM
model directories (see checkpoint.py), last/ with the optimizer, the weight average and the carried hidden
state next to it.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

import torch
from safetensors.torch import load_file

from ..training.config import TrainConfig
from ..training.run import DIVERGED, EARLY_STOPPED, FINISHED, TARGET_REACHED, TIME_BUDGET, Run
from . import checkpoint as ckpt
from .corpus import Corpus, batchify, get_batch, load_corpus
from .model import CELLS, INITS, RNNModel, repackage_hidden
from .subwords import ngram_table
from .tokenizer import Vocab

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("plateau", "cosine", "constant")


@dataclass
class LMConfig(TrainConfig):
    """Every knob of a language-model run. Defaults are the shipped PTB LSTM recipe."""
    corpus: str = "ptb"               # 'ptb' | 'shakespeare' | 'wiki' | 'text:PATH'
    cell: str = "lstm"                # 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru'
    emsize: int = 650
    nhid: int = 650
    nlayers: int = 2
    dropout_emb: float = 0.4          # locked dropout on embeddings
    dropout_hid: float = 0.3          # locked dropout between layers
    dropout_out: float = 0.4          # locked dropout before the decoder
    dropout_weight: float = 0.0       # DropConnect on hidden-to-hidden weights (AWD-LSTM weight drop)
    tie_weights: bool = True
    subwords: bool = False            # add character n-gram vectors to word embeddings (ml.lm.subwords)
    init: str = "xavier"              # 'xavier' | 'orthogonal' | 'default'
    batch_size: int = 64
    bptt: int = 35                    # truncated-BPTT window k
    eval_batch_size: int = 10
    optimizer: str = "adam"           # 'sgd' | 'adam'
    lr: float = 2e-3                  # a new value on resume replaces the current LR: a manual anneal step
    weight_decay: float = 1.2e-6
    clip: float = 0.25                # max global gradient norm
    schedule: str = "plateau"         # 'plateau' | 'cosine' | 'constant'
    lr_decay: float = 0.25            # plateau: lr *= lr_decay when valid ppl stops improving
    min_lr: float = 1e-5
    warmup_steps: int = 100
    ema: float = 0.999                # weight averaging decay (0 = off); eval + checkpoints use averaged weights
    ema_warmup: bool = True           # short warm-up of the average (off: keep a warm start's weights at full decay)
    epochs: int = 40
    validate_every: int = 0           # also validate every N steps inside an epoch (0 = at epoch ends only)
    validate_from: int = 0            # ...starting at this step (mid-epoch checks are ~10 s each on PTB)
    target_ppl: float = 0.0           # stop as soon as validation perplexity is <= this (0 = off)
    bf16_rnn: bool = False            # with bf16, also run the recurrent layers under bf16 autocast
    seed: int = 1111
    log_every: int = 50
    slot: str = ""                    # manifest fields for the web app (default: the run directory's name)
    label: str = ""

    def validate(self) -> "LMConfig":
        super().validate()
        checks = [
            (self.cell in CELLS, f"cell must be one of {CELLS}"),
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be >= 1"),
            (self.bptt >= 1, "bptt must be >= 1"),
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

    def model_kwargs(self, ntoken: int) -> dict:
        return dict(ntoken=ntoken, cell=self.cell, emsize=self.emsize, nhid=self.nhid, nlayers=self.nlayers,
                    dropout_emb=self.dropout_emb, dropout_hid=self.dropout_hid, dropout_out=self.dropout_out,
                    tie_weights=self.tie_weights, init=self.init, dropout_weight=self.dropout_weight)


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


def train_loss(model: RNNModel, x: torch.Tensor, y: torch.Tensor, hidden: list, cfg: LMConfig):
    """Mean NLL for one window. The 10k-way decoder is the biggest matmul, so it is what bf16 speeds up
    most; the recurrence stays float32 unless bf16_rnn, since its state is carried across windows."""
    weight = model.embedding_matrix()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16 and cfg.bf16_rnn):
        h, hidden = model.features(x, hidden, weight)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        logits = model.decode(h, weight)
    loss = torch.nn.functional.cross_entropy(logits.float().view(-1, model.ntoken), y.reshape(-1))
    return loss, [tuple(t.float() for t in s) if isinstance(s, tuple) else s.float() for s in hidden]


def make_optimizer(cfg: LMConfig, model: RNNModel) -> torch.optim.Optimizer:
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


def lr_at(cfg: LMConfig, base_lr: float, step: int, total_steps: int, invocation_s: float = 0.0) -> float:
    """LR for the step: linear warm-up, then ``base_lr`` (plateau/constant) or cosine to min_lr. With a time
    budget, cosine ends at whichever comes first, the last step or the budget, so a run cut by time is annealed."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    if cfg.schedule == "cosine":
        t = min(1.0, step / max(1, total_steps))
        if cfg.time_budget_min:
            t = max(t, min(1.0, invocation_s / (60 * cfg.time_budget_min)))
        return warm * (cfg.min_lr + 0.5 * (base_lr - cfg.min_lr) * (1 + math.cos(math.pi * t)))
    return warm * base_lr


def build_model(cfg: LMConfig, vocab: Vocab) -> RNNModel:
    """A fresh model, or ``cfg.init_from``'s weights in this config's shape (dropouts may differ: warm-starting
    with stronger regularisation is the point of that option)."""
    if cfg.subwords:
        ids, offsets, count = ngram_table(vocab.itos)
        model = RNNModel(**cfg.model_kwargs(len(vocab)), subword_ngrams=count)
        model.set_subwords(ids, offsets)
    else:
        model = RNNModel(**cfg.model_kwargs(len(vocab)))
    if cfg.init_from:
        src, src_vocab, _ = ckpt.load_model_dir(cfg.init_from)
        if not ckpt.same_shape(src, src_vocab, model, vocab):
            raise ValueError(f"init_from {cfg.init_from}: architecture or vocab differs from this config")
        model.load_state_dict(src.state_dict())
    return model.train()


class LMTrainer:
    """A word LM with its optimizer, weight average, data and carried hidden state: the pieces train() steps."""

    def __init__(self, cfg: LMConfig, run: Run, corpus: Corpus):
        self.cfg, self.run, self.vocab = cfg, run, corpus.vocab
        self.train_data = batchify(corpus.ids["train"], cfg.batch_size)        # (N, batch_size) token ids
        self.valid_data = batchify(corpus.ids["valid"], cfg.eval_batch_size)
        self.model = build_model(cfg, corpus.vocab)
        self.opt = make_optimizer(cfg, self.model)
        self.ema = EMA(self.model, cfg.ema, warmup=cfg.ema_warmup) if cfg.ema > 0 else None
        self.total_steps = math.ceil((self.train_data.size(0) - 1) / cfg.bptt) * cfg.epochs
        self.hidden = self.model.init_hidden(cfg.batch_size)
        # The steps use bf16 only where the CPU has it (run.bf16 says whether it does).
        self.step_cfg = replace(cfg, bf16=run.bf16, bf16_rnn=cfg.bf16_rnn and run.bf16)
        self.manifest = {"slot": cfg.slot or run.dir.name, "label": cfg.label or run.dir.name, "corpus": cfg.corpus,
                         "corpus_description": corpus.description, "train": asdict(cfg),
                         "tokenizer": {"name": "unroll-word/1", "newline_eos": True}}
        # epoch: epochs completed; batch_pos: row of train_data where the next window starts.
        self.state = {"epoch": 0, "batch_pos": 0, "step": 0, "base_lr": cfg.lr, "lr_setting": cfg.lr,
                      "best_valid_ppl": None, "bad_epochs": 0, "history": [], "valid_wall_s": 0.0,
                      "tokens_per_s": None, "commands": []}
        if run.resuming:
            self.resume()
        if cfg.command:
            self.state["commands"].append(cfg.command)

    def resume(self) -> None:
        st, extra = self.run.load_last(self.opt)
        ckpt.load_model_tensors(self.model, load_file(str(self.run.last / "weights.safetensors")))
        if self.ema is not None and "ema.updates" in extra:
            self.ema.shadow = {k: extra[f"ema.{k}"].clone() for k in self.model.state_dict()}
            self.ema.updates = int(extra["ema.updates"])
        self.hidden = [tuple(extra[f"hidden.{i}.{j}"] for j in range(len(h))) if isinstance(h, tuple)
                       else extra[f"hidden.{i}.0"] for i, h in enumerate(self.hidden)]
        if self.cfg.lr != st["lr_setting"]:     # a manual anneal step: the new LR replaces the current one
            st.update(base_lr=self.cfg.lr, lr_setting=self.cfg.lr, bad_epochs=0)
        self.state = st

    def windows(self):
        """(x, y) truncated-BPTT windows (bptt, batch_size) from where the epoch stands."""
        while self.state["batch_pos"] < self.train_data.size(0) - 1:
            x, y = get_batch(self.train_data, self.state["batch_pos"], self.cfg.bptt)
            self.state["batch_pos"] += x.size(0)
            yield x, y

    def epoch_fraction(self) -> float:
        return self.state["batch_pos"] / self.train_data.size(0)

    def in_last_window(self) -> bool:
        return self.state["batch_pos"] >= self.train_data.size(0) - 1

    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[float, float]:
        """One optimisation step on a window -> (loss, gradient norm before clipping)."""
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.hidden = repackage_hidden(self.hidden)
        loss, self.hidden = train_loss(self.model, x, y, self.hidden, self.step_cfg)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip))
        if math.isfinite(grad_norm):
            self.opt.step()  # a non-finite gradient would poison the weights: skip that step
        if self.ema is not None:
            self.ema.update(self.model)
        self.state["step"] += 1
        return loss.item(), grad_norm

    def validate(self, lr: float, grad_norm: float, partial: bool) -> float:
        """Validation perplexity of the averaged weights; logs it and keeps best/ up to date."""
        st, t0 = self.state, time.time()
        if self.ema is not None:
            self.ema.swap(self.model)
        valid_ppl = math.exp(evaluate(self.model, self.valid_data, self.cfg.bptt)[0])
        epoch = round(st["epoch"] + self.epoch_fraction(), 3) if partial else st["epoch"]
        st["history"].append({"epoch": epoch, "step": st["step"], "valid_ppl": round(valid_ppl, 3), "lr": lr,
                              "train_wall_s": round(self.run.elapsed_s(), 1), "tokens_per_s": st["tokens_per_s"],
                              **({"partial_epoch": True} if partial else {})})
        if st["best_valid_ppl"] is None or valid_ppl < st["best_valid_ppl"]:
            st["best_valid_ppl"] = valid_ppl
            ckpt.save_model_dir(self.run.best, self.model, self.vocab, self.manifest, self.metrics(valid_ppl))
        if self.ema is not None:
            self.ema.swap(self.model)
        st["valid_wall_s"] += time.time() - t0
        self.run.emit("epoch", epoch=st["epoch"] + 1 if partial else st["epoch"], step=st["step"],
                      total_steps=self.total_steps, loss=math.log(valid_ppl), ppl=valid_ppl,
                      tokens_per_s=st["tokens_per_s"] or 0.0, grad_norm=grad_norm, lr=lr,
                      elapsed_s=self.run.elapsed_s(), valid_ppl=valid_ppl,
                      best=st["best_valid_ppl"], best_valid_ppl=st["best_valid_ppl"],
                      **({"partial": True} if partial else {}))
        return valid_ppl

    def metrics(self, valid_ppl: float) -> dict:
        st = self.state
        return {"valid_ppl": valid_ppl, "epoch": st["epoch"], "step": st["step"], "command": self.cfg.command,
                "commands": st["commands"],  # every invocation (start + resumes) that made this model
                "train_wall_s": round(self.run.elapsed_s(), 1), "history": st["history"],
                "tokens_per_s": st["tokens_per_s"]}

    def end_epoch(self, lr: float, grad_norm: float) -> float:
        """Validate, decay the LR on a plateau, start the next epoch from a zero state -> valid perplexity."""
        st = self.state
        st["epoch"] += 1
        best = st["best_valid_ppl"]
        valid_ppl = self.validate(lr, grad_norm, partial=False)
        improved = best is None or valid_ppl < best * 0.995
        st["bad_epochs"] = 0 if improved else st["bad_epochs"] + 1
        if not improved and self.cfg.schedule == "plateau":
            st["base_lr"] = max(self.cfg.min_lr, st["base_lr"] * self.cfg.lr_decay)
        st["batch_pos"] = 0
        self.hidden = self.model.init_hidden(self.cfg.batch_size)
        return valid_ppl

    def save_last(self) -> None:
        extra = {f"hidden.{i}.{j}": t.detach() for i, h in enumerate(self.hidden)
                 for j, t in enumerate(h if isinstance(h, tuple) else (h,))}
        if self.ema is not None:
            extra.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
            extra["ema.updates"] = torch.tensor(self.ema.updates)
        def write_model(directory):
            ckpt.write_model_files(directory, "last", self.model, self.vocab, self.manifest, {})
        self.run.save_last(write_model, self.opt, self.state, extra)


def train(cfg: LMConfig, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None, corpus: Corpus | None = None) -> dict:
    """Train (or, with ``cfg.resume``, continue) a word LM in ``cfg.run_dir``; returns the done event.

    Step events carry loss, ppl, tokens_per_s, grad_norm and lr; epoch events valid_ppl and best_valid_ppl
    (with partial=True for a validation inside an epoch). ``corpus`` skips loading one (tests).
    """
    run = Run(cfg, on_progress, should_stop)
    t = LMTrainer(cfg, run, corpus or load_corpus(cfg.corpus))
    st = t.state
    status, lr, grad_norm = None, st["base_lr"], 0.0
    while status is None and st["epoch"] < cfg.epochs:
        window_loss, window_tokens, window_t0 = 0.0, 0, time.time()
        for x, y in t.windows():
            lr = lr_at(cfg, st["base_lr"], st["step"], t.total_steps, run.invocation_s())
            loss, grad_norm = t.step(x, y, lr)
            window_loss += loss * y.numel()
            window_tokens += y.numel()
            if st["step"] % cfg.log_every == 0:
                mean, seconds = window_loss / window_tokens, max(time.time() - window_t0, 1e-9)
                st["tokens_per_s"] = round(window_tokens / seconds, 1)
                run.emit("step", epoch=st["epoch"] + 1, step=st["step"], total_steps=t.total_steps, loss=mean,
                         ppl=math.exp(min(mean, 50)), tokens_per_s=window_tokens / seconds, grad_norm=grad_norm,
                         lr=lr, elapsed_s=run.elapsed_s())
                window_loss, window_tokens, window_t0 = 0.0, 0, time.time()
            if not math.isfinite(loss):
                status = DIVERGED
            elif (cfg.validate_every and st["step"] >= cfg.validate_from and st["step"] % cfg.validate_every == 0
                  and not t.in_last_window() and reached(cfg, t.validate(lr, grad_norm, partial=True))):
                status = TARGET_REACHED
            else:
                status = run.interrupted()
            if status:
                break
            if run.checkpoint_due():
                t.save_last()
        else:
            valid_ppl = t.end_epoch(lr, grad_norm)
            if reached(cfg, valid_ppl):
                status = TARGET_REACHED
            elif st["bad_epochs"] >= cfg.patience:
                status = EARLY_STOPPED
            t.save_last()
    if st["batch_pos"] > 0:  # stopped inside an epoch (its end validated and saved already)
        if status == TIME_BUDGET:
            t.validate(lr, grad_norm, partial=True)  # short runs still leave a best/
        t.save_last()
    return run.finish(status or FINISHED, export=lambda best, dst: ckpt.export_model_dir(best, dst),
                      epoch=st["epoch"], step=st["step"], total_steps=t.total_steps, best=st["best_valid_ppl"],
                      best_valid_ppl=st["best_valid_ppl"], valid_wall_s=round(st["valid_wall_s"], 1),
                      history=st["history"])


def reached(cfg: LMConfig, valid_ppl: float) -> bool:
    return bool(cfg.target_ppl) and valid_ppl <= cfg.target_ppl
