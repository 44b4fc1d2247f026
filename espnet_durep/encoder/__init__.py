"""Encoders: the dual-mode Conformer and the cascaded (causal + non-causal) Conformer."""
