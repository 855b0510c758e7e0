"""The original's training recipe for the MLP classifier, seeded and deterministic on the CPU.

MLP 3328-512-2 (BatchNorm, ReLU, dropout 0.5, Xavier-uniform weights), cross-entropy, SGD (lr 2e-4,
momentum 0.9), StepLR (step 10 epochs, gamma 0.85), batches of 32, at most 200 epochs, early stopping
on the validation loss with patience 5 (the best epoch's weights are kept), a seeded 90/10 split.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

from virnucpro.models.classifier import MLPClassifier
from virnucpro.training.metrics import binary_metrics

log = logging.getLogger("virnucpro")


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters (the original's values)."""

    lr: float = 2e-4
    momentum: float = 0.9
    step_size: int = 10
    gamma: float = 0.85
    batch_size: int = 32
    max_epochs: int = 200
    patience: int = 5
    validation_fraction: float = 0.1

    def describe(self) -> dict:
        return asdict(self)


def split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: a seeded permutation, the last `fraction` (at least 1) held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_val = max(1, int(round(n * fraction))) if n > 1 else 0
    return np.sort(order[: n - n_val]), np.sort(order[n - n_val:])


def new_model(input_dim: int, seed: int) -> MLPClassifier:
    torch.manual_seed(seed)
    model = MLPClassifier(input_dim)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs; remember the best weights."""

    def __init__(self, patience: int) -> None:
        self.patience, self.best, self.bad, self.best_epoch = patience, float("inf"), 0, -1
        self.best_state: dict | None = None

    def update(self, epoch: int, val_loss: float, model: nn.Module) -> bool:
        """Record an epoch; True when training should stop."""
        if val_loss < self.best:
            self.best, self.bad, self.best_epoch = val_loss, 0, epoch
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad += 1
        return self.bad >= self.patience


def train(features: torch.Tensor, labels: torch.Tensor, recipe: Recipe, seed: int) -> tuple[MLPClassifier, dict]:
    """Train on (N, D) fp32 features and (N,) labels (1 = virus); returns the best model and the history.

    The history: per epoch train/validation loss, learning rate and validation metrics; `best_epoch`;
    `final` = validation metrics of the kept weights.
    """
    train_idx, val_idx = split(len(labels), recipe.validation_fraction, seed)
    model = new_model(features.shape[1], seed)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=recipe.step_size, gamma=recipe.gamma)
    loss_fn = nn.CrossEntropyLoss()
    stopper, epochs = EarlyStopping(recipe.patience), []
    gen = torch.Generator().manual_seed(seed + 1)
    xt, yt = features[train_idx], labels[train_idx]
    for epoch in range(recipe.max_epochs):
        lr = opt.param_groups[0]["lr"]
        train_loss = _epoch(model, opt, loss_fn, xt, yt, recipe.batch_size, gen)
        sched.step()
        val_loss, val = evaluate(model, features[val_idx], labels[val_idx], loss_fn)
        epochs.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "val_loss": val_loss, **val})
        log.info("epoch %d: train loss %.4f, validation loss %.4f, accuracy %.3f, AUROC %.3f", epoch + 1, train_loss,
                 val_loss, val["accuracy"], val["auroc"])
        if stopper.update(epoch + 1, val_loss, model):
            break
    model.load_state_dict(stopper.best_state)
    _, final = evaluate(model, features[val_idx], labels[val_idx], loss_fn)
    history = {"epochs": epochs, "best_epoch": stopper.best_epoch, "stopped_early": len(epochs) < recipe.max_epochs,
               "train_frames": int(len(train_idx)), "validation_frames": int(len(val_idx)), "final": final}
    return model.eval(), history


def _epoch(model, opt, loss_fn, x, y, batch_size: int, gen: torch.Generator) -> float:
    model.train()
    order = torch.randperm(len(y), generator=gen)
    total = 0.0
    for at in range(0, len(y), batch_size):
        idx = order[at:at + batch_size]
        if len(idx) < 2:  # BatchNorm needs two samples in training mode
            continue
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / max(len(y), 1)


@torch.no_grad()
def evaluate(model, x, y, loss_fn) -> tuple[float, dict]:
    """(loss, metrics) in eval mode."""
    model.eval()
    logits = model(x)
    prob = torch.softmax(logits, dim=1)[:, 1].numpy()
    return float(loss_fn(logits, y)), binary_metrics(y.numpy(), prob)
