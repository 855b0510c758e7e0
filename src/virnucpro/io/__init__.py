"""Reading inputs (FASTA/FASTQ/BAM/GenBank, pipes, mates), locating problems in them, writing FASTA."""
