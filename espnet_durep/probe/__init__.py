"""Probes of frozen encoder representations: which layer holds what, in which mode."""
