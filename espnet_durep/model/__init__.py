"""ASR models: the dual-mode CTC/attention model and the transducer models."""
