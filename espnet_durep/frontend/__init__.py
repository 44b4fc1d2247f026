"""Incremental STFT/log-mel front-end pieces that need no PyTorch (shared with the runtime)."""
