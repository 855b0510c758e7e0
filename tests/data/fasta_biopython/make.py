"""Writes the FASTA rule cases (*.fa) and Biopython's parse of each (*.json: [[id, sequence], ...]).

Run with Biopython on the path (made with Biopython 1.88; it is not needed to run the tests):
    PYTHONPATH=/path/to/biopython python tests/data/fasta_biopython/make.py
"""

import json
from pathlib import Path

from Bio import SeqIO

HERE = Path(__file__).parent
CASES = {
    "spaces_inside_lines": b">r1 some description\nACGT ACGT AC\nGT  GT\n>r2\n A C G T \n",
    "tabs_inside_lines": b">r1\nAC\tGT\tAC\n>r2\tdesc\nGG\t\tCC\n",
    "crlf_line_ends": b">r1 x\r\nACGT\r\nAC\r\n>r2\r\nGGG\r\n",
    "lone_cr_inside": b">r1\nAC\rGT\n>r2\nGG\r\n",
    "blank_lines": b">r1\n\nACGT\n\n\nAC\n>r2\n\n>r3\nG\n\n",
    "header_spacing": b">  r1   desc here  \nACGT\n>r2\t\tx\nAC\n",
    "semicolon_lines": b">r1\nAC\n;GT\n>r2\nAC\n",
    "no_final_newline": b">r1\nACGT\n>r2\nAC",
    "long_wrapped_with_spaces": b">r1\n" + b"\n".join(b"ACGTACGTAC GTACGTACGT " * 3 for _ in range(20)) + b"\n",
}


def main() -> None:
    for name, data in CASES.items():
        fa = HERE / f"{name}.fa"
        fa.write_bytes(data)
        with open(fa, newline="") as fh:  # no newline translation: Biopython's own handling of \r is tested
            parsed = [[r.id, str(r.seq)] for r in SeqIO.parse(fh, "fasta")]
        (HERE / f"{name}.json").write_text(json.dumps(parsed) + "\n")


if __name__ == "__main__":
    main()
