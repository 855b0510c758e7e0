"""`virnucpro train`: GenBank reading, training-mode frames, the recipe's parts, determinism, a classifier that
works in predict, reuse of embeddings, one-line errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from conftest import one_error_line
from virnucpro.testing.genbank import write_genbank


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """Viral references GC-rich, other references AT-rich (annotated), plus held-out records of each."""
    d = tmp_path_factory.mktemp("refs")
    write_genbank(d / "viral.gbk", 24, gc=0.68, seed=1, prefix="vir")
    write_genbank(d / "other.gbff", 24, gc=0.32, seed=2, prefix="oth")
    (d / "other.gbff.gz").write_bytes(gzip.compress((d / "other.gbff").read_bytes()))
    write_genbank(d / "held_viral.gbk", 6, gc=0.68, seed=3, prefix="hv")
    write_genbank(d / "held_other.gbk", 6, gc=0.32, seed=4, prefix="ho")
    return d


def _train(run_cli, model_args, refs, out, *extra):
    args = [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    code, _, err = run_cli("train", "--viral", refs / "viral.gbk", "--other", refs / "other.gbff.gz", "--chunk-size",
                           300, "-o", out, *args, "--device", "cpu", "-q", *extra)
    return code, err


def _classifier(run_dir):
    """(weights as bytes per name, metadata) of a trained classifier."""
    from safetensors import safe_open

    with safe_open(str(run_dir / "classifier.safetensors"), "pt") as st:
        return {k: st.get_tensor(k).numpy().tobytes() for k in st.keys()}, st.metadata()


def test_genbank_reader_and_training_frames(refs):
    from virnucpro.io.genbank import read_genbank
    from virnucpro.training.frames import class_frames

    recs = list(read_genbank(str(refs / "viral.gbk")))
    assert len(recs) == 24 and recs[0].id == "vir0.1" and len(recs[0].translations) == 3
    assert all(t.startswith("M") and "*" not in t for r in recs for t in r.translations)
    frames = class_frames("viral", [str(refs / "viral.gbk")], 300)
    assert frames.records == 24 and 40 <= len(frames.ids) < frames.chunks * 6
    cds = "|".join(t for r in recs for t in r.translations)
    assert all(p in cds for p in frames.proteins)  # every kept frame lies inside an annotated CDS


def test_ambiguous_chunks_are_dropped(tmp_path):
    from virnucpro.training.frames import class_frames

    write_genbank(tmp_path / "a.gbk", 4, gc=0.5, seed=5, prefix="a")
    clean = class_frames("viral", [str(tmp_path / "a.gbk")], 300)
    first, rest = (tmp_path / "a.gbk").read_text().split("//\n", 1)
    head, origin = first.split("ORIGIN", 1)
    (tmp_path / "n.gbk").write_text(head + "ORIGIN" + origin.replace("c", "y", 200) + "//\n" + rest)  # Y in a0
    dirty = class_frames("viral", [str(tmp_path / "n.gbk")], 300)
    assert dirty.ambiguous_chunks > 0 and len(dirty.ids) < len(clean.ids)
    assert [i for i in clean.ids if not i.startswith("a0.")] == [i for i in dirty.ids if not i.startswith("a0.")]


def test_split_schedule_and_early_stopping():
    from virnucpro.training.recipe import EarlyStopping, Recipe, split

    tr, va = split(200, 0.1, seed=3)
    assert len(va) == 20 and len(tr) == 180 and not set(tr) & set(va)
    assert split(200, 0.1, seed=3)[1].tolist() == va.tolist() and split(200, 0.1, seed=4)[1].tolist() != va.tolist()
    model = torch.nn.Linear(2, 2)
    stop = EarlyStopping(patience=5)
    losses = [1.0, 0.8, 0.7, 0.75, 0.71, 0.9, 0.72, 0.73]
    stopped = [stop.update(e + 1, loss, model) for e, loss in enumerate(losses)]
    assert stopped.index(True) == 7 and stop.best_epoch == 3  # five epochs without beating 0.7
    r = Recipe()
    opt = torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=r.step_size, gamma=r.gamma)
    lrs = []
    for _ in range(21):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[9] == 2e-4 and lrs[10] == pytest.approx(2e-4 * 0.85) and lrs[20] == pytest.approx(2e-4 * 0.85 ** 2)
    assert (r.batch_size, r.max_epochs, r.patience) == (32, 200, 5)


def test_auroc_matches_pair_counting():
    from virnucpro.training.metrics import auroc, binary_metrics

    rng = np.random.default_rng(0)
    y = rng.random(60) < 0.4
    s = np.round(rng.random(60), 1)  # ties
    pairs = [(a > b) + 0.5 * (a == b) for a in s[y] for b in s[~y]]
    assert auroc(y, s) == pytest.approx(np.mean(pairs))
    m = binary_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.2, 0.6]))
    assert m["accuracy"] == 0.5 and m["precision"] == 0.5 and m["recall"] == 0.5 and m["auroc"] == 0.75


def test_train_is_deterministic_reuses_embeddings_and_its_classifier_works_in_predict(
        tmp_path, run_cli, model_args, refs):
    code, err = _train(run_cli, model_args, refs, tmp_path / "a", "--seed", "7")
    assert code == 0, err
    out = tmp_path / "a"
    assert {p.name for p in out.iterdir()} >= {"classifier.safetensors", "metrics.json", "report.html",
                                                "virnucpro.log", "features"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"]["auroc"] > 0.9 and metrics["frames"]["viral"]["selection"]
    assert metrics["epochs"][0]["lr"] == 2e-4 and metrics["best_epoch"] >= 1
    code, err = _train(run_cli, model_args, refs, tmp_path / "b", "--seed", "7")
    assert _classifier(tmp_path / "b") == _classifier(out)  # same weights, bit for bit, and the same metadata
    for name in ("classifier.safetensors", *(f"features/{p.name}" for p in (out / "features").iterdir())):
        assert (tmp_path / "b" / name).read_bytes() == (out / name).read_bytes(), name  # the same file, header too

    code, err = _train(run_cli, model_args, refs, out, "--seed", "8")  # same inputs, another seed
    assert code == 0, err
    last_run = (out / "virnucpro.log").read_text().split("run start")[-1]
    assert last_run.count("embeddings reused") == 2 and "embedding " not in last_run

    from safetensors import safe_open

    with safe_open(str(out / "classifier.safetensors"), "pt") as st:
        meta = st.metadata()
    assert meta["chunk_size"] == "300" and meta["seed"] == "8" and json.loads(meta["recipe"])["lr"] == 2e-4

    predict_args = [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    held = tmp_path / "held.fa"
    from virnucpro.io.genbank import read_genbank

    held.write_text("".join(f">{r.id}\n{r.seq}\n" for name in ("held_viral.gbk", "held_other.gbk")
                            for r in read_genbank(str(refs / name))))
    code, _, err = run_cli("predict", held, "-o", tmp_path / "pred", *predict_args, "--classifier",
                           out / "classifier.safetensors", "--chunk-size", 300, "--device", "cpu", "-q")
    assert code == 0, err
    rows = [ln.split("\t") for ln in (tmp_path / "pred" / "sequences.tsv").read_text().splitlines()[1:]]
    right = sum((r[0].startswith("hv")) == (r[-1] == "virus") for r in rows)
    assert right >= 10, rows  # of 12 held-out sequences
    code, _, err = run_cli("predict", held, "-o", tmp_path / "pred500", *predict_args, "--classifier",
                           out / "classifier.safetensors", "--device", "cpu")
    assert code == 2 and "300" in one_error_line(err)

    code, _, err = run_cli("train", "--viral", refs / "viral.gbk", "--other", refs / "other.gbff.gz",
                           refs / "held_other.gbk", "--chunk-size", 300, "-o", out, "--seed", "8", "-q",
                           *[a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"],
                           "--device", "cpu")  # one more input file: only that one is embedded
    assert code == 0, err
    last_run = (out / "virnucpro.log").read_text().split("run start")[-1]
    assert last_run.count("embeddings reused") == 2 and last_run.count("embedding ") == 1


@pytest.mark.parametrize("case,expect", [
    ("empty", "holds no sequences"),
    ("no_translation", "no CDS /translation"),
    ("no_frame", "no usable frame in the --other inputs"),
])
def test_bad_training_inputs_fail_in_one_line(tmp_path, run_cli, model_args, refs, case, expect):
    other = tmp_path / "other.gbk"
    if case == "empty":
        other = tmp_path / "empty.fa"
        other.write_text("")
    elif case == "no_translation":
        write_genbank(other, 3, gc=0.3, seed=9, prefix="x", with_translations=False)
    else:
        other = tmp_path / "tiny.fa"
        other.write_text(">s\n" + "N" * 400 + "\n")  # no codon translates: no frame at all
    args = [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    code, _, err = run_cli("train", "--viral", refs / "viral.gbk", "--other", other, "--chunk-size", 300,
                           "-o", tmp_path / "out", *args, "--device", "cpu")
    assert code == 2 and expect in one_error_line(err), err
