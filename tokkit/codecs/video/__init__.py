"""Causal image-video tokenizer: frame 0 coded alone, frame t conditioned on the decoded frame t-1."""
