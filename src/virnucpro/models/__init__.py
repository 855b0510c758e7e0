"""Native PyTorch encoders (ESM-2, DNABERT-S), the classifier, and their weight loading."""
