"""VirNucPro's MLP classifier: Linear(3328,512) -> BatchNorm1d -> ReLU -> Dropout -> Linear(512,2).

Loads the published `300_model.pth` / `500_model.pth` (whole pickled `__main__.MLPClassifier`
modules, saved on a CUDA device) through a restricted unpickler that executes nothing, and
saves/loads the same weights as safetensors.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from virnucpro.errors import ModelError
from virnucpro.models.safe_pickle import Record, safe_load

INPUT_DIM, HIDDEN_DIM, NUM_CLASSES = 3328, 512, 2
LEGACY_CLASSES = {
    "__main__.MLPClassifier",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.batchnorm.BatchNorm1d",
    "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.dropout.Dropout",
}


class MLPClassifier(nn.Module):
    """The published classifier (eval mode: BatchNorm uses running statistics, dropout is off)."""

    def __init__(self, input_dim: int = INPUT_DIM, hidden_dim: int = HIDDEN_DIM, num_class: int = NUM_CLASSES) -> None:
        super().__init__()
        self.hidden_layer = nn.Linear(input_dim, hidden_dim)
        self.bn1 = nn.BatchNorm1d(hidden_dim)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.5)
        self.output_layer = nn.Linear(hidden_dim, num_class)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3328) features -> (N, 2) logits."""
        return self.output_layer(self.dropout(self.relu(self.bn1(self.hidden_layer(x)))))


def _module_state(rec: Record, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten an inert pickled nn.Module record into a state dict (parameters and persistent buffers)."""
    state = rec.state if isinstance(rec.state, dict) else {}
    out: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, t in (state.get(group) or {}).items():
            if isinstance(t, torch.Tensor):
                out[prefix + name] = t
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, Record):
            out.update(_module_state(child, f"{prefix}{name}."))
    return out


def load_classifier(path: Path) -> MLPClassifier:
    """Load a classifier from a legacy `.pth` pickle or a `.safetensors` file (strict, CPU, eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"classifier {str(path)!r} not found: pass --classifier PATH or run `virnucpro download`")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        obj = safe_load(path, LEGACY_CLASSES)
        if isinstance(obj, Record) and obj.qualname.endswith("MLPClassifier"):
            state = _module_state(obj)
        elif isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
            state = dict(obj)
        else:
            raise ModelError(f"{str(path)!r} holds neither an MLPClassifier nor its state dict")
    return _build(state, path)


def _build(state: dict[str, torch.Tensor], path: Path) -> MLPClassifier:
    from virnucpro.models.weights import load_strict

    w = state.get("hidden_layer.weight")
    dims = (w.shape[1], w.shape[0]) if w is not None and w.dim() == 2 else (INPUT_DIM, HIDDEN_DIM)
    model = MLPClassifier(*dims)
    return load_strict(model, state, [], f"classifier {path}").eval()


def save_classifier(model: MLPClassifier, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Save the weights as safetensors (no pickle), atomically, with optional string metadata."""
    from virnucpro.atomic import save_safetensors

    save_safetensors(Path(path), {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, metadata)
