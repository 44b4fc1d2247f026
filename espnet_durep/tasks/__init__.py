"""ESPnet2 task for espnet_durep models."""
