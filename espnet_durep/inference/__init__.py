"""Streaming inference: incremental frontend, searches and the recogniser API."""
