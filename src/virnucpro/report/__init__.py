"""Reports: report.html for a finished run, summary.html for a workflow's samples (static SVG, no network)."""
