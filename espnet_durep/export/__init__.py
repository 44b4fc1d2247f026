"""Export of trained models for deployment (ONNX graphs with explicit streaming caches)."""
