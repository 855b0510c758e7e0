"""docs/CONTRIBUTING.md carries the source tree: every file under src/ has exactly one line there, and every path
it names exists (the one-line-per-file rule). The README points to that page."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "CONTRIBUTING.md"
BUILT = (".pyc", ".so", ".pyd", ".o")  # build outputs, never in the tree


def _tree_paths() -> list[str]:
    text = PAGE.read_text()
    start = text.index("```\n", text.index("## Files")) + 4
    block = text[start:text.index("```", start)]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def _source_files() -> list[str]:
    files = []
    for path in (ROOT / "src").rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.is_dir() or path.name.endswith(BUILT) or any(p == "__pycache__" or p.endswith(".egg-info")
                                                             for p in parts):
            continue
        files.append("/".join(parts))
    return sorted(files)


def test_every_source_file_has_exactly_one_line():
    listed = _tree_paths()
    wrong = {path: listed.count(path) for path in _source_files() if listed.count(path) != 1}
    assert not wrong, f"lines in docs/CONTRIBUTING.md per file (one needed): {wrong}"


def test_every_listed_path_exists():
    gone = [path for path in _tree_paths() if not (ROOT / path).exists()]
    assert not gone, f"docs/CONTRIBUTING.md lists paths that do not exist: {gone}"


def test_readme_points_to_the_tree():
    assert "docs/CONTRIBUTING.md" in (ROOT / "README.md").read_text()
