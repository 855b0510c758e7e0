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
        state = _safetensors_state(path)
    else:
        obj = safe_load(path, LEGACY_CLASSES)
        if isinstance(obj, Record) and obj.qualname.endswith("MLPClassifier"):
            state = _module_state(obj)
        elif isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
            state = dict(obj)
        else:
            raise ModelError(f"{str(path)!r} holds neither an MLPClassifier nor its state dict")
    return _build(state, path)


def _safetensors_state(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors classifier's tensors; one written by `virnucpro train` must match its content checksum."""
    from virnucpro.models.weights import read_state_file
    from virnucpro.sealed import SEAL, load_sealed

    state = read_state_file(path)  # a truncated or non-safetensors file: ModelError
    from safetensors import safe_open

    with safe_open(str(path), "pt") as st:
        sealed = SEAL in (st.metadata() or {})
    if sealed:
        try:
            state, _ = load_sealed(path)
        except ValueError as exc:
            raise ModelError(f"{exc}: retrain it or re-download the classifier") from None
    return state


def _build(state: dict[str, torch.Tensor], path: Path) -> MLPClassifier:
    from virnucpro.models.weights import load_strict

    w = state.get("hidden_layer.weight")
    dims = (w.shape[1], w.shape[0]) if w is not None and w.dim() == 2 else (INPUT_DIM, HIDDEN_DIM)
    model = MLPClassifier(*dims)
    return load_strict(model, state, [], f"classifier {path}").eval()


def save_classifier(model: MLPClassifier, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Save the weights as sealed safetensors (no pickle; checksum in the metadata), atomically, with optional
    string metadata; non-finite weights are refused."""

    from virnucpro.sealed import save_sealed

    save_sealed(Path(path), {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, metadata or {})
