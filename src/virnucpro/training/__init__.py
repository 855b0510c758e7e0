"""Training a classifier on the user's own data: frame selection, the original recipe, metrics."""
