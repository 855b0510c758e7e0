"""The Snakemake workflow's checks: config.yaml and samples.tsv validation, safe sample names."""
