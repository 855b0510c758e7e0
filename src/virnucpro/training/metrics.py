"""Held-out metrics of a binary classifier (virus = the positive class)."""

from __future__ import annotations

import math

import numpy as np


def binary_metrics(labels: np.ndarray, virus_prob: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (call: P(virus) > 0.5, as `predict`'s argmax) and AUROC.

    Args:
        labels: (N,) 0 = others, 1 = virus.
        virus_prob: (N,) predicted P(virus).
    """
    labels = np.asarray(labels).astype(bool)
    called = np.asarray(virus_prob) > 0.5
    tp, fp = int((called & labels).sum()), int((called & ~labels).sum())
    fn = int((~called & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float((called == labels).mean()) if len(labels) else 0.0, "precision": precision,
            "recall": recall, "f1": f1, "auroc": auroc(labels, np.asarray(virus_prob, dtype=np.float64))}


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(a random positive scores above a random negative), ties counted half
    (the Mann-Whitney U statistic from average ranks). NaN when a class is missing."""
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def json_safe(value):
    """`value` with every NaN or infinite float replaced by None (JSON has no NaN: metrics.json stays valid JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def undefined(final: dict) -> list[str]:
    """Names of the held-out metrics that are not numbers (AUROC when the held-out frames hold one class)."""
    return [k for k, v in final.items() if isinstance(v, float) and not math.isfinite(v)]
