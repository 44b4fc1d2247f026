"""One-way layering: a package imports only packages below it (ARCHITECTURE in the README)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "espnet_durep"
# rank of every top-level module or package; an import must go to a lower rank (or stay inside)
RANKS = {
    "__init__": 0, "_offline": 0, "chunking": 0, "modes": 0,  # PyTorch-free core
    "frontend": 1, "search": 1,
    "runtime": 2,                                              # ONNX Runtime recogniser and server
    "layers": 1, "metrics": 1,
    "encoder": 2, "decoder": 2, "distill": 2, "probe": 2,
    "model": 3,
    "registry": 4, "tasks": 5,
    "export": 6,
    "inference": 7,                                            # PyTorch recogniser
    "bin": 8,                                                  # command-line entry points
}
TORCH_FREE = {"__init__", "chunking", "modes", "frontend", "search", "runtime"}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_module_has_a_rank():
    assert {_top(p) for p in PACKAGE.rglob("*.py")} <= set(RANKS)


def test_imports_go_one_way_down():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        source = _top(path)
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "espnet_durep" or len(parts) < 2 or parts[1] == source:
                continue
            if RANKS[parts[1]] >= RANKS[source]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_pytorch_free_layers_never_import_torch_or_espnet():
    wrong = [f"{p.relative_to(PACKAGE)} imports {m}" for p in PACKAGE.rglob("*.py") if _top(p) in TORCH_FREE
             for m in _imports(p) if m.split(".")[0] in ("torch", "torchaudio", "espnet", "espnet2")]
    assert not wrong, "\n".join(wrong)
