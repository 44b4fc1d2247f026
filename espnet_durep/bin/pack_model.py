#!/usr/bin/env python3
"""Pack a trained model into a self-contained zip, and unpack it for decoding.

    python -m espnet_durep.bin.pack_model pack --asr_train_config exp/student/config.yaml \\
        --asr_model_file exp/student/valid.acc.ave.pth [--results exp/RESULTS.md] \\
        --outpath exp/student/packed_model.zip
    python -m espnet_durep.bin.pack_model unpack exp/student/packed_model.zip DIR

What the zip holds: :mod:`espnet_durep.export.pack`. ``DIR/config.yaml`` and ``DIR/model.pth``
of an unpacked zip can be passed to ``durep_inference``.
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from typing import List, Optional

from espnet_durep.export.pack import pack, unpack


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="write a self-contained model zip")
    p.add_argument("--asr_train_config", type=Path, required=True, help="config.yaml of the experiment")
    p.add_argument("--asr_model_file", type=Path, required=True, help="model .pth to pack")
    p.add_argument("--results", type=Path, default=None, help="RESULTS.md to include")
    p.add_argument("--outpath", type=Path, required=True, help="output zip")
    p = sub.add_parser("unpack", help="extract a packed model with absolute paths in its config")
    p.add_argument("zip", type=Path)
    p.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            names = pack(args.asr_train_config, args.asr_model_file, args.outpath, args.results)
            print(f"wrote {args.outpath}: {', '.join(names)}")
        else:
            config, model = unpack(args.zip, args.out_dir)
            print(f"--asr_train_config {config} --asr_model_file {model}")
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
