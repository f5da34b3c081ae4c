"""Multi-task recurrent VAE of Giannakopoulos & Pikrakis ("Multi-task learning for sound event detection using
variational autoencoders", DCASE 2022 Task 4, sec. 2.1; peer code ``petrosgk/SED_with_MultiTaskVAE``,
``event_detector/model_lib.py``, models.md sec. 3.2).

One encoder and one decoder serve every task. The paper draws one encoder and decoder per task "with shared weights";
the peer code calls the same layers once per task input. Here a batch mixes the tasks' rows (strong, weak,
unlabelled) and runs through the one encoder and decoder once; every row gets every head, and the loss terms pick
the rows they have labels for (:mod:`sedrepro.losses`). No layer mixes rows, so this equals the per-task calls.

Block (:class:`RecurrentBlock`, the encoder's and the decoder's structure), input u (B, T, D):
  a = softmax(u u^T) u (Keras ``Attention([u, u])``: dot-product scores, no scale, no parameters);
  h = BiGRU(BiGRU([a, u])) (B, T, 2H) (``gru_layers`` layers, ``state_size`` H per direction; PyTorch's GRU is
  Keras's ``reset_after`` GRU) + tanh(Linear(u)) (B, T, 2H) (the residual dense branch, of the block's input).
Encoder: the block on the features x (B, T, F), then the Gaussian posterior: Linear(2H -> 2Z) split into the mean
  mu and s, sigma = softplus(s) (tfp ``IndependentNormal``, ``latents`` Z); z = mu + sigma * eps with eps ~ N(0, I)
  in training mode (the reparameterisation trick) and z = mu in eval mode (the peer's inference model samples; a
  scored prediction here is deterministic). ``variational: false``: z = Linear(2H -> Z) (the peer's bottleneck).
Decoder: the block on z (B, T, Z) -> (B, T, 2H). Heads: one shared Linear(2H -> C) gives ``strong`` (B, T, C) frame
  logits and, on the mean over time of the decoder output (Keras ``GlobalAveragePooling1D``), ``tags`` (B, C) clip
  logits; Linear(2H -> F) gives ``reconstruction`` (B, T, F) of the (normalised) input features.
Outputs also carry the posterior for the KL term: ``latent_mean`` mu (B, T, Z) and ``latent_logvar`` log sigma^2
  (B, T, Z). The deterministic encoder's code is a point: ``latent_mean`` is z and there is no ``latent_logvar``, so
  the KL term is 0 for it (:func:`sedrepro.losses.kl_gaussian`), as the paper's deterministic variant has none.

The noise eps is drawn from torch's global generator (``torch.randn_like``, on the input's device), the stream
dropout uses: the train stage seeds it (``torch.manual_seed(seed)``) and its resume state restores it, so a run's
draws are fixed by its seed. Initialisation is PyTorch's defaults (the peer code's is Keras's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import boolean, check_keys, positive_int

__all__ = ["MTLVAEConfig", "RecurrentBlock", "MTLVAE"]

# Below this pre-activation, log(softplus(s)) is s to float32 precision; the clamp keeps the unused branch finite.
_LOG_SOFTPLUS_CUTOFF = -15.0


@dataclass(frozen=True)
class MTLVAEConfig:
    """An mtl_vae config (defaults in config/schema.yaml are the peer code's, models.md 3.2). state_size: GRU units
    per direction (256); the residual branch and the block output are 2 x state_size wide. latents: Z, the latent
    width (256, the peer's num_latents = state_size). gru_layers: stacked BiGRUs per block (2). variational: the
    Gaussian posterior (true, the paper's proposed model) or a dense bottleneck (false, its deterministic variant)."""

    state_size: int
    latents: int
    gru_layers: int
    variational: bool

    FIELDS = ("state_size", "latents", "gru_layers", "variational")

    def __post_init__(self) -> None:
        for name in ("state_size", "latents", "gru_layers"):
            positive_int(name, getattr(self, name))
        boolean("variational", self.variational)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MTLVAEConfig:
        """Parse a config dict; ValueError names unknown or missing keys."""
        check_keys("mtl_vae", d, cls.FIELDS)
        return cls(**{k: d[k] for k in cls.FIELDS})


class RecurrentBlock(nn.Module):
    """Attention concatenated with the input -> stacked BiGRUs, plus a tanh dense branch of the input (module
    docstring). forward: u (B, T, D) -> (B, T, 2H)."""

    def __init__(self, n_in: int, state_size: int, gru_layers: int) -> None:
        super().__init__()
        self.grus = nn.ModuleList(
            nn.GRU(2 * n_in if i == 0 else 2 * state_size, state_size, batch_first=True, bidirectional=True)
            for i in range(gru_layers)
        )
        self.residual = nn.Linear(n_in, 2 * state_size)

    def forward(self, u: Tensor) -> Tensor:
        weights = torch.softmax(u @ u.transpose(1, 2), dim=-1)  # (B, T, T), unscaled dot products
        h = torch.cat([weights @ u, u], dim=-1)  # (B, T, 2D): attention first, as the peer's Concatenate
        for gru in self.grus:
            h, _ = gru(h)  # (B, T, 2H)
        return h + torch.tanh(self.residual(u))  # (B, T, 2H)


class MTLVAE(nn.Module):
    """forward: x (B, T, F) -> {"strong": (B, T, C), "tags": (B, C) logits, "reconstruction": (B, T, F),
    "latent_mean": (B, T, Z)} and, with the variational encoder, "latent_logvar" (B, T, Z)."""

    def __init__(self, cfg: MTLVAEConfig, n_features: int, n_classes: int) -> None:
        super().__init__()
        positive_int("n_features", n_features)
        positive_int("n_classes", n_classes)
        self.cfg, self.n_features, self.n_classes = cfg, n_features, n_classes
        width = 2 * cfg.state_size
        self.encoder = RecurrentBlock(n_features, cfg.state_size, cfg.gru_layers)
        # the posterior's (mean, pre-softplus scale), or the deterministic bottleneck
        self.latent = nn.Linear(width, 2 * cfg.latents if cfg.variational else cfg.latents)
        self.decoder = RecurrentBlock(cfg.latents, cfg.state_size, cfg.gru_layers)
        self.head = nn.Linear(width, n_classes)  # shared by the strong and the clip (tags) outputs
        self.reconstruct = nn.Linear(width, n_features)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(z, mu, log sigma^2) of x (B, T, F), each (B, T, Z); mu and log sigma^2 are None when deterministic."""
        if x.dim() != 3 or x.shape[2] != self.n_features:
            raise ValueError(f"MTLVAE expects input (B, T, {self.n_features}), got {tuple(x.shape)}")
        params = self.latent(self.encoder(x))  # (B, T, 2Z) or (B, T, Z)
        if not self.cfg.variational:
            return params, None, None
        mu, s = params.chunk(2, dim=-1)  # (B, T, Z) each
        log_sigma = torch.where(
            s > _LOG_SOFTPLUS_CUTOFF, F.softplus(s.clamp(min=_LOG_SOFTPLUS_CUTOFF)).log(), s
        )  # log softplus(s), without log(0) where softplus underflows
        z = mu + log_sigma.exp() * torch.randn_like(mu) if self.training else mu
        return z, mu, 2.0 * log_sigma

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        z, mu, logvar = self.encode(x)
        h = self.decoder(z)  # (B, T, 2H)
        out = {
            "strong": self.head(h),  # (B, T, C)
            "tags": self.head(h.mean(dim=1)),  # (B, C): pooled over time, then the shared head
            "reconstruction": self.reconstruct(h),  # (B, T, F)
        }
        if mu is None or logvar is None:  # deterministic: the code itself, no spread
            out["latent_mean"] = z
        else:
            out["latent_mean"], out["latent_logvar"] = mu, logvar
        return out
