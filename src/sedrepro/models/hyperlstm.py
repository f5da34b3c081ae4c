"""HyperLSTM layer (Ha, Dai & Le 2017) as used by Singh, Phan & Benetos, "Hypernetworks for
sound event detection: a proof-of-concept" (paper eqs 1-15; ``shared/papers/hypernetworks-sed.md``).

Notation (paper sec. 2.1): main LSTM with input size N_x and hidden size N_h; a small hyper cell
with hidden size N_ĥ reads x̂_t = [h_{t-1}; x_t] (eq 10) and emits per-gate embeddings
z_x, z_h, z_b in R^{N_z} (eqs 12-14). Each embedding is projected to a scaling vector
d_k^y(z) in R^{N_h} that scales the *rows* of the static weights (eq 15), so for each gate
y in (i, g, f, o)::

    pre_y = d_x^y ⊙ (W_x^y x_t) + d_h^y ⊙ (W_h^y h_{t-1}) + b^y + d_b^y(z_b)     (eqs 1-4, 7-9, 15)
    c_t   = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)                                     (eq 5)
    h_t   = σ(o) ⊙ tanh(c_t)                                                    (eq 6)

Because (diag(d) W) x = d ⊙ (W x), W_x x_t does not depend on the recurrence and is computed for
all time steps in one matmul before the loop (same for the x-part of the hyper cell's input
matmul). Only the h_{t-1}/ĥ_{t-1}-dependent work stays in the per-step loop.

All gate-stacked tensors use the paper's gate order (i, g, f, o), *not* PyTorch's (i, f, g, o).

Performance notes (CPU, B 64, T 172, 512 -> 256, N_ĥ 128; 2 cores, 2026-11-27/28). The precomputed tensors are
time-major and the loop walks ``unbind(0)`` views (indexing a (B, T, ...) tensor per step makes backward quadratic in
T); per-step GEMM outputs are ``split`` rather than sliced (a slice's backward zero-fills the whole output). With the
rnn hyper cell the layer costs about 1.8-2.1x ``torch.nn.LSTM`` (forward + backward + Adam; 1.6-1.8x on 1 thread),
the LSTM hyper cell 2.6x, with LN 3.3x. A Python-loop LSTM with the same GEMMs costs only 1.1x ``nn.LSTM``: the
extra cost is the hypernetwork's own work, mostly memory traffic of the (12, B, N_h) scaling vectors and their
gradients, not the loop. ``_step`` can run through ``torch.compile`` (``set_compiled``; config
``training.compile``): one compile per process (about 20 s on 2 cores with a warm cache), the elementwise work fused
into a few C++ kernels, 6-13 % off the layer in interleaved runs. Tried and dropped, each no faster within the
noise: ``torch.jit.script`` of the loop; a hand-written BPTT ``autograd.Function`` (matched the reference to 1e-10);
batch halves in two threads; deferring W's gradient to one GEMM over all T*B rows (a custom Function per step plus
a tap on W); folding b into the d projection as a constant-1 embedding column (no broadcast offset in ``baddbmm``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import boolean, check_keys, one_of, positive_int

__all__ = ["HyperConfig", "HyperLSTM", "HYPER_CELLS", "Z_FROM", "GATES", "set_compiled"]

HYPER_CELLS = ("rnn", "lstm")
Z_FROM = ("previous", "current")
GATES = ("i", "g", "f", "o")  # paper order, eqs 1-4
LN_EPS = 1e-3  # as in Ha's supercell layer_norm


@dataclass(frozen=True)
class HyperConfig:
    """The ``rnn.hyper`` block: hyper cell of a HyperLSTM.

    hidden_size: N_ĥ (paper: 64 or 128). embedding_size: N_z (paper: 8).
    cell: "rnn" = paper eq 11 literally; "lstm" = small LSTM as in Ha's reference code.
    z_from: "previous" = z from ĥ_{t-1} (eqs 12-14 as printed); "current" = from ĥ_t (all code).
    layer_norm: supercell-style LayerNorm. scale_init: initial value of every d (1.0 = plain
    LSTM at start, 0.1 = Ha's "recurrent batch-norm init trick").
    """

    hidden_size: int
    embedding_size: int
    cell: str
    z_from: str
    layer_norm: bool
    scale_init: float

    FIELDS = ("hidden_size", "embedding_size", "cell", "z_from", "layer_norm", "scale_init")

    def __post_init__(self) -> None:
        positive_int("hyper.hidden_size", self.hidden_size)
        positive_int("hyper.embedding_size", self.embedding_size)
        one_of("hyper.cell", self.cell, HYPER_CELLS)
        one_of("hyper.z_from", self.z_from, Z_FROM)
        boolean("hyper.layer_norm", self.layer_norm)
        s = self.scale_init
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s):
            raise ValueError(f"hyper.scale_init must be a finite number, got {s!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HyperConfig:
        """Parse the validated-config dict; ValueError names unknown or missing keys."""
        check_keys("rnn.hyper", d, cls.FIELDS)
        return cls(
            hidden_size=d["hidden_size"],
            embedding_size=d["embedding_size"],
            cell=d["cell"],
            z_from=d["z_from"],
            layer_norm=d["layer_norm"],
            scale_init=d["scale_init"],
        )


def _ln_gates(pre: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Per-gate LayerNorm of gate-major pre-activations: pre (G, B, N) -> (G, B, N)."""
    return F.layer_norm(pre, [pre.shape[-1]], eps=LN_EPS) * gamma.unsqueeze(1) + beta.unsqueeze(1)


class HyperLSTM(nn.Module):
    """Single-layer, unidirectional HyperLSTM (paper eqs 1-15), batch-first.

    Args:
        input_size: N_x. hidden_size: N_h. hyper_hidden_size: N_ĥ. embedding_size: N_z.
        hyper_cell: "rnn" (eq 11: ĥ_t = tanh(W_ĥ ĥ_{t-1} + W_x̂ x̂_t + b̂)) or "lstm" (Ha's code).
        z_from: "previous" (eqs 12-14 as printed, z from ĥ_{t-1}) or "current" (z from ĥ_t).
        layer_norm: LayerNorm (eps 1e-3) per gate on the pre-activations and on c_t inside the
            tanh of h_t only (stored c stays raw), as in Ha's supercell; the "lstm" hyper cell
            gets the same treatment. The "rnn" hyper cell has no LN (eq 11 has none).
        scale_init: initial value of every scaling vector d (see ``reset_parameters``).

    No forget-gate bias constant is added (Ha's code adds +1 inside σ(f)); the paper's eqs 3, 5
    have none and this keeps the layer identical to ``nn.LSTM`` at init when scale_init = 1.

    Parameter layout (gate-stacked rows in the paper's order i, g, f, o):
        weight_x (4N_h, N_x), weight_h (4N_h, N_h), bias (4N_h,)            main LSTM
        hyper_weight_x (G N_ĥ, N_x), hyper_weight_h (G N_ĥ, N_h)             W_x̂ = [W_x̂h | W_x̂x] (eq 11)
        hyper_weight_hh (G N_ĥ, N_ĥ), hyper_bias (G N_ĥ,)                   W_ĥ, b̂; G = 1 (rnn) or 4 (lstm)
        z_x_weight/z_h_weight/z_b_weight (4N_z, N_ĥ), z_x_bias/z_h_bias     eqs 12-14, one z per gate
        d_x_weight/d_h_weight/d_b_weight (4, N_h, N_z)                      d_k^y = W^{k,y} z_k^y (eq 15)
        [ln_gamma, ln_beta (4, N_h); ln_c_gamma, ln_c_beta (N_h,)]          if layer_norm
        [hyper_ln_gamma, hyper_ln_beta (4, N_ĥ); hyper_ln_c_* (N_ĥ,)]       if layer_norm and lstm
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        hyper_hidden_size: int,
        embedding_size: int,
        hyper_cell: str,
        z_from: str,
        layer_norm: bool,
        scale_init: float,
    ) -> None:
        super().__init__()
        positive_int("input_size", input_size)
        positive_int("hidden_size", hidden_size)
        positive_int("hyper_hidden_size", hyper_hidden_size)
        positive_int("embedding_size", embedding_size)
        one_of("hyper_cell", hyper_cell, HYPER_CELLS)
        one_of("z_from", z_from, Z_FROM)
        boolean("layer_norm", layer_norm)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.hyper_hidden_size = hyper_hidden_size
        self.embedding_size = embedding_size
        self.hyper_cell = hyper_cell
        self.z_from = z_from
        self.layer_norm = layer_norm
        self.scale_init = float(scale_init)
        # Run the per-step cell through torch.compile in training (``set_compiled``): an execution choice, not a
        # parameter; evaluation (no_grad) stays eager, so scoring checkpoints never waits for a compile.
        self.compiled = False

        nx, nh, nhh, nz = input_size, hidden_size, hyper_hidden_size, embedding_size
        g = 4 if hyper_cell == "lstm" else 1
        self.hyper_gates = g
        P = nn.Parameter
        e = torch.empty
        # Main LSTM (eqs 1-4).
        self.weight_x = P(e(4 * nh, nx))
        self.weight_h = P(e(4 * nh, nh))
        self.bias = P(e(4 * nh))
        # Hyper cell (eq 11); W_x̂ acting on [h_{t-1}; x_t] is stored as its h and x column blocks.
        self.hyper_weight_h = P(e(g * nhh, nh))
        self.hyper_weight_x = P(e(g * nhh, nx))
        self.hyper_weight_hh = P(e(g * nhh, nhh))
        self.hyper_bias = P(e(g * nhh))
        # Embeddings (eqs 12-14), 4 gates x N_z rows each.
        self.z_x_weight = P(e(4 * nz, nhh))
        self.z_x_bias = P(e(4 * nz))
        self.z_h_weight = P(e(4 * nz, nhh))
        self.z_h_bias = P(e(4 * nz))
        self.z_b_weight = P(e(4 * nz, nhh))
        # Scaling-vector projections (eq 15), one (N_h x N_z) matrix per gate.
        self.d_x_weight = P(e(4, nh, nz))
        self.d_h_weight = P(e(4, nh, nz))
        self.d_b_weight = P(e(4, nh, nz))
        if layer_norm:
            self.ln_gamma = P(e(4, nh))
            self.ln_beta = P(e(4, nh))
            self.ln_c_gamma = P(e(nh))
            self.ln_c_beta = P(e(nh))
            if hyper_cell == "lstm":
                self.hyper_ln_gamma = P(e(4, nhh))
                self.hyper_ln_beta = P(e(4, nhh))
                self.hyper_ln_c_gamma = P(e(nhh))
                self.hyper_ln_c_beta = P(e(nhh))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise as Ha's supercell (models.md 1.2), with d starting at ``scale_init``.

        W_x xavier-uniform (whole 4N_h x N_x matrix, TF glorot default), W_h orthogonal per gate,
        b = 0; same scheme for the hyper cell (W_x̂ xavier over its full [h; x] width). z_x, z_h
        projections: weight 0, bias 1 (z = 1); d projections constant scale_init / N_z (so
        d = scale_init); z_b weight N(0, 0.01); d_b projection 0 (dynamic bias starts at 0).
        """
        nh, nhh, nz, g = self.hidden_size, self.hyper_hidden_size, self.embedding_size, self.hyper_gates
        nn.init.xavier_uniform_(self.weight_x)
        for k in range(4):
            nn.init.orthogonal_(self.weight_h[k * nh : (k + 1) * nh])
        self.bias.zero_()
        # W_x̂ over the concatenated input [h; x] (eq 10), then split into its column blocks.
        w_hat = torch.empty(
            g * nhh, nh + self.input_size, dtype=self.hyper_weight_h.dtype, device=self.hyper_weight_h.device
        )
        nn.init.xavier_uniform_(w_hat)
        self.hyper_weight_h.copy_(w_hat[:, :nh])
        self.hyper_weight_x.copy_(w_hat[:, nh:])
        for k in range(g):
            nn.init.orthogonal_(self.hyper_weight_hh[k * nhh : (k + 1) * nhh])
        self.hyper_bias.zero_()
        for w, b in ((self.z_x_weight, self.z_x_bias), (self.z_h_weight, self.z_h_bias)):
            w.zero_()
            b.fill_(1.0)
        nn.init.normal_(self.z_b_weight, 0.0, 0.01)
        self.d_x_weight.fill_(self.scale_init / nz)
        self.d_h_weight.fill_(self.scale_init / nz)
        self.d_b_weight.zero_()
        if self.layer_norm:
            for name in ("ln_gamma", "ln_c_gamma", "hyper_ln_gamma", "hyper_ln_c_gamma"):
                if hasattr(self, name):
                    getattr(self, name).fill_(1.0)
            for name in ("ln_beta", "ln_c_beta", "hyper_ln_beta", "hyper_ln_c_beta"):
                if hasattr(self, name):
                    getattr(self, name).zero_()

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, hyper_hidden_size={self.hyper_hidden_size}, "
            f"embedding_size={self.embedding_size}, hyper_cell={self.hyper_cell!r}, "
            f"z_from={self.z_from!r}, layer_norm={self.layer_norm}, scale_init={self.scale_init}"
        )

    def forward(self, x: Tensor) -> Tensor:
        """Run the layer over a whole sequence from zero initial states.

        Args:
            x: (B, T, N_x), T >= 1.
        Returns:
            h: (B, T, N_h), the main LSTM's hidden states h_1..h_T.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"HyperLSTM expects input (B, T, {self.input_size}), got {tuple(x.shape)}")
        B, T, _ = x.shape
        if T == 0:
            raise ValueError("HyperLSTM got an empty sequence (T == 0); the recurrence needs at least one time step")
        nh, nhh, nz, g = self.hidden_size, self.hyper_hidden_size, self.embedding_size, self.hyper_gates
        ln = self.layer_norm
        hyper_lstm = self.hyper_cell == "lstm"
        previous = self.z_from == "previous"

        # --- Input side, all time steps at once (one GEMM): W_x x_t and W_x̂x x_t + b̂. ---
        x_tm = x.transpose(0, 1)  # (T, B, N_x), time-major so the loop can unbind(0)
        w_in = torch.cat([self.weight_x, self.hyper_weight_x], 0)  # (4N_h + G N_ĥ, N_x)
        b_in = torch.cat([self.bias.new_zeros(4 * nh), self.hyper_bias])
        pre_in = F.linear(x_tm, w_in, b_in)  # (T, B, 4N_h + G N_ĥ)
        # Main part regrouped gate-major: (T, 4, B, N_h), so the loop works on (4, B, N_h).
        u_all, uhat_all = pre_in.split([4 * nh, g * nhh], 2)
        u_seq = list(u_all.reshape(T, B, 4, nh).transpose(1, 2).unbind(0))
        uhat_seq = list(uhat_all.unbind(0))  # T x (B, G N_ĥ)

        # --- Weights used in the loop, concatenated once so each step does few GEMMs. ---
        # Everything acting on h_{t-1}: main W_h and the hyper cell's W_x̂h (eqs 1-4, 10-11).
        w_h_cat = torch.cat([self.weight_h, self.hyper_weight_h], 0)  # (4N_h + G N_ĥ, N_h)
        w_z = torch.cat([self.z_x_weight, self.z_h_weight, self.z_b_weight], 0)  # (12 N_z, N_ĥ)
        b_z = torch.cat([self.z_x_bias, self.z_h_bias, self.z_x_bias.new_zeros(4 * nz)])  # z_b: no bias
        if previous:
            # z from ĥ_{t-1}: fold the z projections into the ĥ_{t-1} GEMM.
            w_hh_cat = torch.cat([self.hyper_weight_hh, w_z], 0)  # (G N_ĥ + 12 N_z, N_ĥ)
        else:
            w_hh_cat = self.hyper_weight_hh
        # d projections for (x, h, b) x 4 gates as one batched matmul: (12, N_z, N_h). The static
        # bias b rides along as the baddbmm offset of the d_b part (b + d_b are simply added).
        w_d = torch.cat([self.d_x_weight, self.d_h_weight, self.d_b_weight], 0).transpose(1, 2)
        d_off = torch.cat([self.bias.new_zeros(8, 1, nh), self.bias.view(4, 1, nh)], 0)  # (12, 1, N_h)

        empty = x.new_empty(0)  # stands in for LN parameters that do not exist
        weights = _LoopWeights(
            w_h_cat,
            w_hh_cat,
            w_z,
            b_z,
            w_d,
            d_off,
            self.ln_gamma if ln else empty,
            self.ln_beta if ln else empty,
            self.ln_c_gamma if ln else empty,
            self.ln_c_beta if ln else empty,
            self.hyper_ln_gamma if ln and hyper_lstm else empty,
            self.hyper_ln_beta if ln and hyper_lstm else empty,
            self.hyper_ln_c_gamma if ln and hyper_lstm else empty,
            self.hyper_ln_c_beta if ln and hyper_lstm else empty,
        )
        compiled = _compiled_step() if self.compiled and torch.is_grad_enabled() else None
        h = u_seq[0].new_zeros(B, nh)
        c = u_seq[0].new_zeros(B, nh)
        hh = u_seq[0].new_zeros(B, nhh)  # ĥ
        ch = u_seq[0].new_zeros(B, nhh)  # ĉ (lstm hyper cell only; stays 0 for the rnn cell)
        outs: list[Tensor] = []
        for t in range(T):
            # Step 0 runs eagerly: its zero states need no gradient, which would be a second graph to compile.
            if compiled is not None and t > 0:
                try:
                    h, c, hh, ch = compiled(u_seq[t], uhat_seq[t], h, c, hh, ch, weights, hyper_lstm, previous, ln)
                    outs.append(h)
                    continue
                except Exception as err:  # no C++ compiler, recompile limit, ...: this step and the rest eagerly
                    compiled = _compile_failed(err)
            h, c, hh, ch = _step(u_seq[t], uhat_seq[t], h, c, hh, ch, weights, hyper_lstm, previous, ln)
            outs.append(h)
        return torch.stack(outs, 1)  # (B, T, N_h)


def set_compiled(model: nn.Module, enabled: bool) -> int:
    """Switch the torch.compile'd per-step cell on or off in every HyperLSTM of ``model``; returns how many.

    Same mathematics (float64: within 1e-14 of eager; float32: rounding-level differences from the fused kernels).
    Costs one compile per process (about 20-40 s on 2 CPU cores; needs a C++ compiler on CPU) and a second one when
    the batch size first changes; if compiling fails, the layer warns once and runs eagerly.
    """
    layers = [m for m in model.modules() if isinstance(m, HyperLSTM)]
    for m in layers:
        m.compiled = bool(enabled)
    return len(layers)


class _LoopWeights(NamedTuple):
    """The tensors every step of the recurrence reads (concatenated once per forward); empty LN entries without LN."""

    w_h_cat: Tensor  # (4N_h + G N_ĥ, N_h): main W_h and the hyper cell's W_x̂h, both acting on h_{t-1}
    w_hh_cat: Tensor  # (G N_ĥ [+ 12 N_z], N_ĥ): W_ĥ [and the z projections when z comes from ĥ_{t-1}]
    w_z: Tensor  # (12 N_z, N_ĥ): z projections (eqs 12-14)
    b_z: Tensor  # (12 N_z,): their biases (z_b has none: zeros)
    w_d: Tensor  # (12, N_z, N_h): d projections (eq 15), (x, h, b) x 4 gates
    d_off: Tensor  # (12, 1, N_h): 0 for d_x, d_h; the static bias b for the d_b part
    ln_gamma: Tensor
    ln_beta: Tensor
    ln_c_gamma: Tensor
    ln_c_beta: Tensor
    hyper_ln_gamma: Tensor
    hyper_ln_beta: Tensor
    hyper_ln_c_gamma: Tensor
    hyper_ln_c_beta: Tensor


def _step(
    u_t: Tensor,
    uhat_t: Tensor,
    h: Tensor,
    c: Tensor,
    hh: Tensor,
    ch: Tensor,
    w: _LoopWeights,
    hyper_lstm: bool,
    previous: bool,
    ln: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One step of the recurrence (eqs 5-6, 10-15): (h, c, ĥ, ĉ)_{t-1} -> (h, c, ĥ, ĉ)_t.

    u_t: (4, B, N_h) precomputed W_x x_t per gate; uhat_t: (B, G N_ĥ) precomputed W_x̂x x_t + b̂. Only the
    h_{t-1}/ĥ_{t-1}-dependent products are computed here.
    """
    B, nh = h.shape
    nhh = hh.shape[1]
    gnhh = uhat_t.shape[1]  # G N_ĥ
    nz = w.w_d.shape[1]
    # split() rather than slicing: one slice's backward zero-fills the whole GEMM output.
    parts = torch.mm(h, w.w_h_cat.t()).split([4 * nh, gnhh], 1)  # (B, 4N_h), (B, G N_ĥ)
    rhh = torch.mm(hh, w.w_hh_cat.t())  # (B, G N_ĥ [+ 12 N_z])
    if previous:
        zparts = rhh.split([gnhh, 12 * nz], 1)
        rhh = zparts[0]
        z = zparts[1] + w.b_z  # (B, 12 N_z), eqs 12-14 with ĥ_{t-1}
    # Hyper cell (eq 11 / Ha's LSTM), input x̂_t = [h_{t-1}; x_t] (eq 10).
    hpre = uhat_t + parts[1] + rhh  # (B, G N_ĥ)
    if hyper_lstm:
        hg = hpre.view(B, 4, nhh).transpose(0, 1)  # (4, B, N_ĥ)
        if ln:
            hg = _ln_gates(hg, w.hyper_ln_gamma, w.hyper_ln_beta)
        hi, hgg, hf, ho = hg.unbind(0)
        ch = torch.sigmoid(hf) * ch + torch.sigmoid(hi) * torch.tanh(hgg)
        cn = F.layer_norm(ch, [nhh], w.hyper_ln_c_gamma, w.hyper_ln_c_beta, LN_EPS) if ln else ch
        hh = torch.sigmoid(ho) * torch.tanh(cn)
    else:
        hh = torch.tanh(hpre)
    if not previous:
        z = torch.addmm(w.b_z, hh, w.w_z.t())  # (B, 12 N_z), z from ĥ_t
    # Scaling vectors d_k^y = W^{k,y} z_k^y (eq 15): (12, B, N_z) @ (12, N_z, N_h); the static
    # bias b rides along as the offset of the d_b part (d_off), since b and d_b are just added.
    d = torch.baddbmm(w.d_off, z.view(B, 12, nz).transpose(0, 1), w.w_d)  # (12, B, N_h)
    dd = d.chunk(3, 0)  # d_x, d_h, b + d_b: 3 x (4, B, N_h)
    v = parts[0].view(B, 4, nh).transpose(0, 1)  # (4, B, N_h) = W_h h_{t-1}
    # Gate pre-activations (eqs 1-4 with 7-9, 15): d_x ⊙ W_x x + d_h ⊙ W_h h + b + d_b.
    pre = torch.addcmul(torch.addcmul(dd[2], dd[0], u_t), dd[1], v)  # (4, B, N_h)
    if ln:
        pre = _ln_gates(pre, w.ln_gamma, w.ln_beta)
    i, gg, f, o = pre.unbind(0)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)  # eq 5
    cn = F.layer_norm(c, [nh], w.ln_c_gamma, w.ln_c_beta, LN_EPS) if ln else c
    h = torch.sigmoid(o) * torch.tanh(cn)  # eq 6
    return h, c, hh, ch


_COMPILED: dict[str, Any] = {}  # "step": the compiled _step; "failed": why compiling it failed, once it has


def _compiled_step() -> Callable[..., tuple[Tensor, Tensor, Tensor, Tensor]] | None:
    """``_step`` through torch.compile, built on first use (one per process; dynamo compiles once per flag set and
    again once the batch size changes). None once compiling has failed in this process."""
    if "failed" in _COMPILED:
        return None
    if "step" not in _COMPILED:
        _COMPILED["step"] = torch.compile(_step, fullgraph=True)
    return _COMPILED["step"]


def _compile_failed(err: Exception) -> None:
    """Record a compile failure and warn once: the layer then runs eagerly (same mathematics, slower)."""
    if "failed" not in _COMPILED:
        _COMPILED["failed"] = err
        warnings.warn(
            f"HyperLSTM: torch.compile of the per-step cell failed, running eagerly: {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}",
            RuntimeWarning,
            stacklevel=3,
        )
