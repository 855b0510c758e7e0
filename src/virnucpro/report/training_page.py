"""report.html of `virnucpro train`: loss and metric curves per epoch, the final held-out metrics, the data."""

from __future__ import annotations

from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.report import svg
from virnucpro.report.style import document
from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too


POSITIVE = "viral"  # the class the classifier's score is for (label 1; `other` is label 0)


def write_training_report(root: Path, metrics: dict) -> Path:
    target = Path(root) / "report.html"
    write_atomic(target, render(metrics, Path(root) / "classifier.safetensors"))
    return target


def render(m: dict, classifier: Path | None = None) -> str:
    """The page; `classifier` is the written classifier's path (named on the page)."""
    epochs = m["epochs"]
    x = [e["epoch"] for e in epochs]
    loss = svg.lines({"train loss": (x, [e["train_loss"] for e in epochs], "#4c72b0"),
                      "validation loss": (x, [e["val_loss"] for e in epochs], "#c0392b")},
                     "epoch", "cross-entropy", "Loss per epoch", (m["best_epoch"], f'best epoch {m["best_epoch"]}'))
    scores = svg.lines({k: (x, [e[k] for e in epochs], c) for k, c in
                        (("accuracy", "#2e86c1"), ("f1", "#27ae60"), ("auroc", "#8e44ad"))},
                       "epoch", "held-out value", "Held-out metrics per epoch",
                       (m["best_epoch"], f'best epoch {m["best_epoch"]}'))
    final = m["final"]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in final.items())
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
            f'</table><table class="kv"><caption>Recipe</caption>{recipe}</table></section>{_outputs(m, classifier)}')
    subtitle = escape(f'positive class: {POSITIVE} (label 1; the score is P({POSITIVE})); chunk size {m["chunk_size"]}, '
                      f'seed {m["seed"]}; best epoch {m["best_epoch"]} (its weights '
                      f'are kept), {stop}')  # document() takes the subtitle as HTML
    return document("virnucpro training report", subtitle, body, "Made by virnucpro train from metrics.json.")


def _outputs(m: dict, classifier: Path | None) -> str:
    """The encoders the features came from (path, sha256 per file) and the classifier written."""
    rows = "".join(f"<tr><td>{escape(name)}</td><td>{escape(str(e.get('path', '-')))}</td><td class='hash'>"
                   f"{escape(_digest(e.get('sha256')))}</td></tr>" for name, e in (m.get("encoders") or {}).items())
    written = escape(str(classifier)) if classifier is not None else "-"
    return (f'<section id="encoders"><h2>Encoders and classifier</h2><table class="wide"><caption>Encoders (sha256 '
            f'of every weight file)</caption><tr><th>encoder</th><th>path</th><th>sha256</th></tr>{rows}</table>'
            f'<p class="note" id="classifier">Classifier written: <code>{written}</code> (positive class '
            f'{POSITIVE}; use it with <code>virnucpro predict --classifier</code>).</p></section>')


def _digest(sha) -> str:
    if isinstance(sha, dict):
        return "; ".join(f"{f} {h}" for f, h in sha.items())
    return str(sha) if sha else "-"


def _value(v) -> str:
    """A held-out metric, or why it has none (NaN or null: the held-out frames hold one class)."""
    return f"{v:.4f}" if isinstance(v, (int, float)) and v == v else "undefined (one class held out)"
