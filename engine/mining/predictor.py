"""The predictor P: a small CNN that learns formula -> fitness, the generator's surrogate (§4.1).

Input: one-hot formulas ``[B, L=20, A]`` read as A channels x 20 positions. Conv(A->96, k3) +
ReLU -> MaxPool 2 -> Conv(96->128, k4) + ReLU -> flatten (128 x 6) -> Linear(->256) +
Dropout 0.2 + ReLU = the latent (256) -> Linear(->1) = predicted fitness
[ref: gan/network/predictor.py NetP].

Training (§4.2): re-initialised every round; labels scaled to ``y / max(y) * 100``; weighted
MSE (weight 2 for the current round's formulas, 1 for older ones); Adam; early stopping on a
random 80/20 split. All randomness (initialisation, split, shuffles, dropout) comes from the
seeded generator passed in.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from engine.mining.generators.base import init_xavier
from engine.mining.masker import one_hot


class Predictor(nn.Module):
    def __init__(self, n_actions: int, max_len: int = 20) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.convs = nn.Sequential(
            nn.Conv1d(n_actions, 96, kernel_size=3), nn.ReLU(),  # [B, 96, L-2]
            nn.MaxPool1d(2),  # [B, 96, (L-2)//2]
            nn.Conv1d(96, 128, kernel_size=4), nn.ReLU(),  # [B, 128, (L-2)//2 - 3]
        )
        flat = 128 * ((max_len - 2) // 2 - 3)  # 128 * 6 for L = 20
        self.latent = nn.Sequential(nn.Linear(flat, 256), nn.Dropout(0.2), nn.ReLU())
        self.out = nn.Linear(256, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, L, A]`` -> (prediction ``[B]``, latent ``[B, 256]``)."""
        h = self.convs(x.permute(0, 2, 1))  # channels = actions
        latent = self.latent(h.flatten(1))
        return self.out(latent)[:, 0], latent

    def reset_parameters(self, generator: torch.Generator) -> None:
        init_xavier(self, generator)


@dataclass(frozen=True)
class PredictorReport:
    """How the last predictor training went (for progress events)."""

    n_samples: int
    epochs: int
    train_loss: float
    valid_loss: float
    label_max: float


def scale_labels(y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``y / max(y) * 100`` with the minimum taken as 0 (§4.2); all-zero labels stay 0."""
    top = float(y.max()) if y.numel() else 0.0
    return (y / top * 100.0 if top > 0 else torch.zeros_like(y)), top


def _weighted_mse(pred: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return ((pred - y) ** 2 * w).mean()


def train_predictor(
    model: Predictor,
    actions: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    generator: torch.Generator,
    *,
    epochs: int,
    patience: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    valid_share: float = 0.2,
    device: torch.device | str = "cpu",
) -> PredictorReport:
    """Re-initialise ``model`` and fit it to ``labels`` (raw fitness, scaled here).

    actions ``[M, L]`` int64; labels and weights ``[M]`` float. The best weights on the
    held-out share are kept (patience counts epochs without a 1e-5 improvement).
    """
    device = torch.device(device)
    model.reset_parameters(generator)
    y, top = scale_labels(labels.to(torch.float32))
    m = int(actions.shape[0])
    perm = torch.randperm(m, generator=generator)
    n_valid = int(math.floor(m * valid_share)) if m >= 5 else 0
    valid_idx, train_idx = perm[:n_valid], perm[n_valid:]
    x_all, y_all, w_all = actions.to(device), y.to(device), weights.to(torch.float32).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best, best_state, since, train_loss, epochs_run = math.inf, None, 0, math.nan, 0
    # Dropout draws from torch's global RNG: seed it from our generator inside a fork so the
    # run stays reproducible and the caller's global state is untouched.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)
        for epoch in range(1, epochs + 1):
            epochs_run = epoch
            model.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator)]
            total = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size].to(device)
                pred, _ = model(one_hot(x_all[idx], model.n_actions))
                loss = _weighted_mse(pred, y_all[idx], w_all[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / max(len(order), 1)
            if n_valid == 0:
                continue
            valid_loss = _evaluate(model, x_all, y_all, w_all, valid_idx.to(device), batch_size)
            if valid_loss < best - 1e-5:
                best, since = valid_loss, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since += 1
                if since >= patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return PredictorReport(n_samples=m, epochs=epochs_run, train_loss=train_loss,
                           valid_loss=best if math.isfinite(best) else math.nan, label_max=top)


@torch.no_grad()
def _evaluate(model: Predictor, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
              idx: torch.Tensor, batch_size: int) -> float:
    model.eval()
    total = 0.0
    for start in range(0, len(idx), batch_size * 16):
        part = idx[start:start + batch_size * 16]
        pred, _ = model(one_hot(x[part], model.n_actions))
        total += float(_weighted_mse(pred, y[part], w[part])) * len(part)
    return total / max(len(idx), 1)
