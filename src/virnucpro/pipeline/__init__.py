"""The predict pipeline by stage: work units, claiming the output directory, scoring, outputs, run_info."""
