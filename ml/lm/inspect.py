"""Step-by-step re-run of a trained RNNModel that exposes its internals per token.

The fused nn.LSTM/nn.GRU/nn.RNN kernels hide their gates, so this module recomputes each time
step in plain tensor ops from the *same* fused weights (PyTorch gate order: LSTM i,f,g,o;
GRU r,z,n). Outputs match the fused forward to float rounding (tested).
"""
from __future__ import annotations

import torch

from .model import RNNModel


def _layer_weights(rnn: torch.nn.Module):
    return rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0


@torch.no_grad()
def step_through(model: RNNModel, ids: torch.Tensor) -> dict:
    """ids (T,) for one sequence -> dict of per-step tensors.

    Returns:
        logits: (T, V) decoder output after each token.
        hidden: list over layers of (T, H_l) hidden states h_t.
        cell:   list over layers of (T, H_l) LSTM cell states (LSTM only, else []).
        gates:  {name: list over layers of (T, H_l)}: LSTM 'input','forget','output' (sigmoid activations)
                and 'candidate' (tanh); GRU 'reset','update'; vanilla RNN: {}.
    """
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError("ids must be a non-empty 1-D tensor")
    was_training = model.training
    model.eval()
    x = model.encoder(ids)  # (T, E)
    hidden, cells = [], []
    gates: dict[str, list] = {}
    for rnn in model.rnns:
        w_ih, w_hh, b_ih, b_hh = _layer_weights(rnn)
        H = w_hh.size(1)
        h = x.new_zeros(H)
        c = x.new_zeros(H)
        xs = x @ w_ih.t() + b_ih  # input projections for all steps at once: (T, G*H)
        hs, cs, g_steps = [], [], {}
        for t in range(x.size(0)):
            hh = h @ w_hh.t() + b_hh
            if model.cell == "lstm":
                i, f, g, o = (xs[t] + hh).chunk(4)
                i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
                c = f * c + i * g
                h = o * c.tanh()
                step = {"input": i, "forget": f, "output": o, "candidate": g}
                cs.append(c)
            elif model.cell == "gru":
                xr, xz, xn = xs[t].chunk(3)
                hr, hz, hn = hh.chunk(3)
                r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
                n = (xn + r * hn).tanh()
                h = (1 - z) * n + z * h
                step = {"reset": r, "update": z}
            else:
                pre = xs[t] + hh
                h = pre.tanh() if model.cell == "rnn_tanh" else pre.relu()
                step = {}
            hs.append(h)
            for k, v in step.items():
                g_steps.setdefault(k, []).append(v)
        hidden.append(torch.stack(hs))
        if cs:
            cells.append(torch.stack(cs))
        for k, v in g_steps.items():
            gates.setdefault(k, []).append(torch.stack(v))
        x = hidden[-1]
    logits = model.decoder(x)
    model.train(was_training)
    return {"logits": logits, "hidden": hidden, "cell": cells, "gates": gates}
