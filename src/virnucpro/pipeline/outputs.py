"""Every output path and table header in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from virnucpro.io.seqio import SPOOLED_NAME

PREDICTION_HEADER = "Sequence_ID\tPrediction\tscore1\tscore2\n"
HIGHEST_HEADER = "Modified_ID\tIs_Virus\n"
SEQUENCES_HEADER = ("seq_id\tlength\tn_chunks\tn_chunks_with_frames\tn_viral_chunks\tfraction_viral\t"
                    "max_virus_score\tmean_virus_score\tverdict\n")
REGIONS_HEADER = "seq_id\tregion\tstart\tend\tlength\tn_chunks\tn_viral_chunks\tmean_virus_score\n"
VIRAL_FILES = ("viral.fa", "viral.fq", "viral_R1.fa", "viral_R1.fq", "viral_R2.fa", "viral_R2.fq")  # by kind and mate
INDEX_PARTS = "parts"  # extract's embeddings/index.json: its list of per-unit files (a "shard" is a cluster job)


def index_parts(index: dict) -> list[dict]:
    """The per-unit files an extract index lists (`parts`; `shards` in indexes of earlier versions)."""
    return index[INDEX_PARTS] if INDEX_PARTS in index else index["shards"]


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
    def regions(self) -> Path:
        """regions.tsv: viral regions inside the sequences (see virnucpro.models.regions)."""
        return self.root / "regions.tsv"

    @property
    def regions_fasta(self) -> Path:
        """regions.fa: each regions.tsv row's stretch of its input sequence."""
        return self.root / "regions.fa"

    @property
    def regions_gff3(self) -> Path:
        """regions.gff3: regions.tsv as GFF3 features (IGV, bedtools)."""
        return self.root / "regions.gff3"

    def viral(self, kind: str, mate: int) -> Path:
        """The viral sequences file for records of `kind` ('fa' | 'fq') and `mate` (0, or 1 / 2 with --paired)."""
        return self.root / (f"viral.{kind}" if mate == 0 else f"viral_R{mate}.{kind}")

    def sequence_outputs(self) -> list[Path]:
        """Every sequence file a predict run may write (see virnucpro.writers); a run writes some of them."""
        return [*(self.root / name for name in VIRAL_FILES), self.regions_fasta, self.regions_gff3]

    def unit_sequences(self, k: int) -> Path:
        """Work unit k's input records that the sequence files may need (see virnucpro.writers.slices)."""
        return self.units / f"seqs_{k:07d}.txt"

    @property
    def embeddings_index(self) -> Path:
        """`extract`'s index of its embedding shards (in embeddings/)."""
        return self.embeddings / "index.json"

    @property
    def report(self) -> Path:
        """report.html: the run at a glance, with pictures (see virnucpro.report)."""
        return self.root / "report.html"

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

    def results(self) -> list[Path]:
        """The three result tables, in the order they are assembled."""
        return [self.predictions, self.highest, self.sequences]

    def tables(self) -> list[Path]:
        """Every table a finished predict run holds (checksummed in run_info.json): the three, then regions.tsv."""
        return [*self.results(), self.regions]

    def everything_written(self) -> list[Path]:
        """Every file and folder a predict run may leave (what --force removes); not the lock file."""
        return [*self.tables(), *self.sequence_outputs(), self.run_info, self.report, self.log, *self.prepare_files(),
                self.units, self.embeddings, self.root / ".stdin_input", *self.root.glob(SPOOLED_NAME + "*")]
