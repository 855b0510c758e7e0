"""report.html of `virnucpro train`: loss and metric curves per epoch, the final held-out metrics, the data."""

from __future__ import annotations

from html import escape
from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.report import svg
from virnucpro.report.style import document


def write_training_report(root: Path, metrics: dict) -> Path:
    target = Path(root) / "report.html"
    write_atomic(target, render(metrics))
    return target


def render(m: dict) -> str:
    epochs = m["epochs"]
    x = [e["epoch"] for e in epochs]
    loss = svg.lines({"train loss": (x, [e["train_loss"] for e in epochs], "#4c72b0"),
                      "validation loss": (x, [e["val_loss"] for e in epochs], "#c0392b")},
                     "epoch", "cross-entropy", "Loss per epoch")
    scores = svg.lines({k: (x, [e[k] for e in epochs], c) for k, c in
                        (("accuracy", "#2e86c1"), ("f1", "#27ae60"), ("auroc", "#8e44ad"))},
                       "epoch", "held-out value", "Held-out metrics per epoch")
    final = m["final"]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v:.4f}</td></tr>" for k, v in final.items())
    data = "".join(f"<tr><td>{escape(n)}</td><td>{f['records']:,}</td><td>{f['chunks']:,}</td>"
                   f"<td>{f['ambiguous_chunks_dropped']:,}</td><td>{f['frames']:,}</td>"
                   f"<td>{escape('; '.join(f'{Path(p).name}: {s}' for p, s in f['selection'].items()))}</td></tr>"
                   for n, f in m["frames"].items())
    stop = (f"stopped early after epoch {len(epochs)}" if m["stopped_early"] else f"ran all {len(epochs)} epochs")
    recipe = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in m["recipe"].items())
    body = (f'<section><h2>Curves</h2><div class="grid"><figure>{loss}</figure><figure>{scores}</figure></div>'
            f'</section><section><h2>Held-out {m["validation_frames"]:,} frames (10%)</h2><table class="kv">{rows}'
            f'</table></section><section><h2>Data</h2><table class="wide"><tr><th>class</th><th>records</th>'
            f'<th>chunks</th><th>ambiguous chunks dropped</th><th>frames</th><th>frames chosen by</th></tr>{data}'
            f'</table><table class="kv"><caption>Recipe</caption>{recipe}</table></section>')
    subtitle = escape(f'chunk size {m["chunk_size"]}, seed {m["seed"]}; best epoch {m["best_epoch"]} (its weights '
                      f'are kept), {stop}')  # document() takes the subtitle as HTML
    return document("virnucpro training report", subtitle, body, "Made by virnucpro train from metrics.json.")
