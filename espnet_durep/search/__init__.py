"""Searches over encoder output, free of PyTorch so that the exported runtime shares them.

A search consumes encoder frames chunk by chunk (:class:`~espnet_durep.search.base.StreamingSearch`);
what it needs of a model (CTC log-posteriors, decoder scores) comes in as a function, so the
same code runs over a PyTorch model and over an exported ONNX one.
"""
