"""virnucpro: exact, fast VirNucPro (viral vs non-viral DNA classification)."""

__version__ = "0.1.0"
