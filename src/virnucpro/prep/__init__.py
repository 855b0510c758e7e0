"""Preparation: chunks, six-frame translation, kept frames (the original's rules)."""
