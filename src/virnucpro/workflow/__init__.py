"""The Snakemake workflow's checks: config.yaml and samples.tsv validated before any job is submitted."""
