"""Naive step-by-step HyperLSTM, written straight from the paper's equations (1-15).

Used only by tests to check the fast ``sedrepro.models.hyperlstm.HyperLSTM``. It reads the fast
module's parameters, so both compute with the same numbers; every matmul is done per time step
and per gate, with no precomputation or concatenation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sedrepro.models.hyperlstm import HyperLSTM

EPS = 1e-3


def _gate(w: Tensor, k: int, n: int) -> Tensor:
    """Rows of gate k of a gate-stacked (4n, ...) tensor."""
    return w[k * n : (k + 1) * n]


def reference_forward(m: HyperLSTM, x: Tensor) -> Tensor:
    """x (B, T, N_x) -> h (B, T, N_h), computed literally from the equations."""
    B, T, _ = x.shape
    if T == 0:
        raise ValueError("empty sequence")
    nh, nhh, nz = m.hidden_size, m.hyper_hidden_size, m.embedding_size
    h = x.new_zeros(B, nh)
    c = x.new_zeros(B, nh)
    hh = x.new_zeros(B, nhh)
    ch = x.new_zeros(B, nhh)
    w_xhat = torch.cat([m.hyper_weight_h, m.hyper_weight_x], 1)  # W_x̂ acts on [h; x] (eq 10)
    out = []
    for t in range(T):
        x_t = x[:, t]
        xhat = torch.cat([h, x_t], 1)  # eq 10
        hh_prev = hh
        # Hyper cell.
        if m.hyper_cell == "rnn":
            hh = torch.tanh(hh_prev @ m.hyper_weight_hh.T + xhat @ w_xhat.T + m.hyper_bias)  # eq 11
        else:
            gates = []
            for k in range(4):
                p = (
                    xhat @ _gate(w_xhat, k, nhh).T
                    + hh_prev @ _gate(m.hyper_weight_hh, k, nhh).T
                    + _gate(m.hyper_bias, k, nhh)
                )
                if m.layer_norm:
                    p = F.layer_norm(p, (nhh,), m.hyper_ln_gamma[k], m.hyper_ln_beta[k], EPS)
                gates.append(p)
            hi, hg, hf, ho = gates
            ch = torch.sigmoid(hf) * ch + torch.sigmoid(hi) * torch.tanh(hg)
            cn = F.layer_norm(ch, (nhh,), m.hyper_ln_c_gamma, m.hyper_ln_c_beta, EPS) if m.layer_norm else ch
            hh = torch.sigmoid(ho) * torch.tanh(cn)
        src = hh_prev if m.z_from == "previous" else hh  # eqs 12-14: ĥ_{t-1} as printed, or ĥ_t
        pre = []
        for k in range(4):  # gates i, g, f, o
            z_x = src @ _gate(m.z_x_weight, k, nz).T + _gate(m.z_x_bias, k, nz)  # eq 13
            z_h = src @ _gate(m.z_h_weight, k, nz).T + _gate(m.z_h_bias, k, nz)  # eq 12
            z_b = src @ _gate(m.z_b_weight, k, nz).T  # eq 14
            d_x = z_x @ m.d_x_weight[k].T  # eq 15 scaling vectors
            d_h = z_h @ m.d_h_weight[k].T
            d_b = z_b @ m.d_b_weight[k].T
            # Row scaling written literally: W^y(d) = diag(d) W^y, per sample.
            wx = d_x.unsqueeze(2) * _gate(m.weight_x, k, nh).unsqueeze(0)  # (B, N_h, N_x)
            wh = d_h.unsqueeze(2) * _gate(m.weight_h, k, nh).unsqueeze(0)  # (B, N_h, N_h)
            p = (
                torch.bmm(wx, x_t.unsqueeze(2)).squeeze(2)
                + torch.bmm(wh, h.unsqueeze(2)).squeeze(2)
                + _gate(m.bias, k, nh)
                + d_b
            )
            if m.layer_norm:
                p = F.layer_norm(p, (nh,), m.ln_gamma[k], m.ln_beta[k], EPS)
            pre.append(p)
        i, g, f, o = pre
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # eq 5
        cn = F.layer_norm(c, (nh,), m.ln_c_gamma, m.ln_c_beta, EPS) if m.layer_norm else c
        h = torch.sigmoid(o) * torch.tanh(cn)  # eq 6
        out.append(h)
    return torch.stack(out, 1)
