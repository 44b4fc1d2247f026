"""An export directory loaded into ONNX Runtime sessions, with its manifest checked."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from espnet_durep.modes import MODES, canonical_mode

FORMAT = "espnet_durep-onnx"
FORMAT_VERSION = 2  # 2: the streaming heads' mode key is "streaming" (1: "stream")
READABLE_VERSIONS = (1, 2)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(export_dir: Path, verify: bool = True) -> Dict:
    """manifest.json of ``export_dir``; with ``verify``, every file's checksum is checked."""
    export_dir = Path(export_dir)
    path = export_dir / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{export_dir}: no manifest.json (not an ONNX export directory)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("format_version") not in READABLE_VERSIONS:
        raise ValueError(f"{path}: format {manifest.get('format')!r} version {manifest.get('format_version')!r}; "
                         f"this runtime reads {FORMAT!r} versions {', '.join(map(str, READABLE_VERSIONS))}")
    if manifest["format_version"] == 1:  # its streaming heads are under "stream"
        for kind in ("ctc", "decoder"):
            heads = manifest["graphs"][kind]
            manifest["graphs"][kind] = {("streaming" if mode == "stream" else mode): name for mode, name in heads.items()}
    if verify:
        for name, want in manifest["files"].items():
            file = export_dir / name
            if not file.is_file():
                raise FileNotFoundError(f"{export_dir}: {name} listed in manifest.json is missing")
            if sha256(file) != want:
                raise ValueError(f"{file}: checksum differs from manifest.json (file changed after export)")
    return manifest


class OnnxModel:
    """The graphs of an export: streaming chunk step, full-context encoder, CTC and decoder heads.

    Args:
        export_dir: directory written by ``python -m espnet_durep.bin.export_onnx``.
        num_threads: intra-op threads of every session (0: ONNX Runtime's default).
        verify: check the files against the manifest's checksums.
    """

    def __init__(self, export_dir: Path, num_threads: int = 1, verify: bool = True):
        import onnxruntime

        self.dir = Path(export_dir)
        self.manifest = read_manifest(self.dir, verify)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        sessions: Dict[str, onnxruntime.InferenceSession] = {}

        def session(name: Optional[str]):
            if name is None:
                return None
            if name not in sessions:
                sessions[name] = onnxruntime.InferenceSession(str(self.dir / name), options,
                                                              providers=["CPUExecutionProvider"])
            return sessions[name]

        graphs = self.manifest["graphs"]
        self.chunk_session = session(graphs["encoder_chunk"])
        self.full_session = session(graphs["encoder_full"])
        # per mode (file names from the manifest: version-1 exports named the streaming heads *_stream.onnx)
        self.ctc_sessions = {canonical_mode(mode, f"{self.dir / 'manifest.json'}: graphs.ctc", MODES): session(name)
                             for mode, name in graphs["ctc"].items()}
        self.decoder_sessions = {
            canonical_mode(mode, f"{self.dir / 'manifest.json'}: graphs.decoder", MODES): session(name)
            for mode, name in graphs["decoder"].items()}
        enc = self.manifest["encoder"]
        self.num_blocks, self.heads, self.d_k = enc["num_blocks"], enc["attention_heads"], enc["d_k"]
        self.output_size, self.input_size = enc["output_size"], enc["input_size"]
        self.cnn_cache_frames = enc["cnn_cache_frames"]

    def empty_caches(self, batch_size: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """att_cache (L, B, H, 0, 2 d_k) and cnn_cache (L, B, D, K') of a new stream."""
        att = np.zeros((self.num_blocks, batch_size, self.heads, 0, 2 * self.d_k), dtype=np.float32)
        cnn = np.zeros((self.num_blocks, batch_size, self.output_size, self.cnn_cache_frames), dtype=np.float32)
        return att, cnn

    def chunk_step(self, feats: np.ndarray, att_cache: np.ndarray, cnn_cache: np.ndarray,
                   att_cache_mask: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One streaming step (see :meth:`DualModeConformerEncoder.forward_chunk`); the returned
        att_cache holds all Tc + c frames (trim it to the left context)."""
        if att_cache_mask is None:
            att_cache_mask = np.ones((feats.shape[0], att_cache.shape[3]), dtype=bool)
        enc, att, cnn = self.chunk_session.run(None, {"feats": feats.astype(np.float32, copy=False),
                                                      "att_cache": att_cache, "cnn_cache": cnn_cache,
                                                      "att_cache_mask": att_cache_mask})
        return enc, att, cnn

    def encode_full(self, feats: np.ndarray) -> np.ndarray:
        """Full-context encoder output (T', D) of one utterance's features (T, idim)."""
        enc, _ = self.full_session.run(None, {"feats": feats[None].astype(np.float32, copy=False),
                                              "feats_lengths": np.array([feats.shape[0]], dtype=np.int64)})
        return enc[0]

    def ctc_log_probs(self, mode: str, enc: np.ndarray) -> np.ndarray:
        """(T, V) CTC log-posteriors of encoder frames (T, D) with the ``mode`` head."""
        if mode not in self.ctc_sessions:
            mode = canonical_mode(mode, "mode", MODES)
        return self.ctc_sessions[mode].run(None, {"enc": enc[None].astype(np.float32, copy=False)})[0][0]

    def has_decoder(self, mode: str) -> bool:
        return self.decoder_sessions.get(canonical_mode(mode, "mode", MODES)) is not None

    def decoder_log_probs(self, mode: str, enc: np.ndarray, ys_in: np.ndarray, ys_in_lens: np.ndarray) -> np.ndarray:
        """(N, U, V) attention-decoder log-probabilities of N prefixes over encoder frames (T, D)."""
        if mode not in self.decoder_sessions:
            mode = canonical_mode(mode, "mode", MODES)
        return self.decoder_sessions[mode].run(None, {"enc": enc[None].astype(np.float32, copy=False),
                                                      "ys_in": ys_in, "ys_in_lens": ys_in_lens})[0]
