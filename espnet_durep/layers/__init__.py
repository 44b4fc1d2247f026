"""Building blocks of the dual-mode encoders."""
