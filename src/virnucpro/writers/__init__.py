"""The sequence files of a finished run (viral.fa, viral.fq, mates, regions.fa, regions.gff3): one writer per file."""
