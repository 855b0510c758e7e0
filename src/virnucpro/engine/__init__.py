"""The embedding engine: tokenised frames -> batches -> both encoders -> pooled features."""
