"""Decoding metrics: latency (algorithmic, first-token, final, emission delay) and their summaries."""
