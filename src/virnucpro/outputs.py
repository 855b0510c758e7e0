"""Every output path and table header in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PREDICTION_HEADER = "Sequence_ID\tPrediction\tscore1\tscore2\n"
HIGHEST_HEADER = "Modified_ID\tIs_Virus\n"
SEQUENCES_HEADER = ("seq_id\tlength\tn_chunks\tn_chunks_with_frames\tn_viral_chunks\tfraction_viral\t"
                    "max_virus_score\tmean_virus_score\tverdict\n")


@dataclass(frozen=True)
class OutputPaths:
    """Paths of everything virnucpro writes into an output directory."""

    root: Path

    @property
    def chunks(self) -> Path:
        return self.root / "chunks.fa"

    @property
    def nucleotides(self) -> Path:
        return self.root / "identified_nucleotide.fa"

    @property
    def proteins(self) -> Path:
        return self.root / "identified_protein.faa"

    @property
    def predictions(self) -> Path:
        return self.root / "prediction_results.txt"

    @property
    def highest(self) -> Path:
        return self.root / "prediction_results_highestscore.csv"

    @property
    def sequences(self) -> Path:
        return self.root / "sequences.tsv"

    @property
    def run_info(self) -> Path:
        return self.root / "run_info.json"

    @property
    def log(self) -> Path:
        return self.root / "virnucpro.log"

    @property
    def units(self) -> Path:
        """Committed work units of a (resumable) predict run."""
        return self.root / "work_units"

    @property
    def embeddings(self) -> Path:
        return self.root / "embeddings"

    def prepare_files(self) -> list[Path]:
        return [self.chunks, self.nucleotides, self.proteins]
