"""Recognition from an ONNX export (:mod:`espnet_durep.export.onnx`) with ONNX Runtime and
NumPy only: no PyTorch and no ESPnet at run time.

    s2t = OnnxSpeech2Text.from_export("exp/student/onnx")
    result = s2t(wav)                                # full context
    stream = s2t.stream(chunk_ms=640)                # streaming, same API as the PyTorch recogniser
"""
