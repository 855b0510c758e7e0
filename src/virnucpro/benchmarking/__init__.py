"""What `virnucpro benchmark` runs on the GPU (bench/ keeps the experiment scripts)."""
