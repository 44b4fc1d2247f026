"""Command-line entry points (``python -m espnet_durep.bin.<name>``)."""
