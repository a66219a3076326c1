"""The package structure the code relies on: one-way imports, inference apart from training."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, REPO

PACKAGES = ("recognizer", "pipeline")
OPENMMLAB = ("mmocr", "mmdet", "mmcv", "mmengine")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (inside functions too), made absolute;
    imports for type checkers only (``if TYPE_CHECKING:``) do not run and do not count."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue  # imports for type hints only never run
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for package in PACKAGES for p in (REPO / package).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph = {}
    for name, path in modules.items():
        if path.parent.name == "configs":
            continue  # MMOCR config files are data, not modules
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_there_are_no_import_cycles_even_through_imports_inside_functions():
    # A package importing its own submodules (``__init__`` re-exports) is not a cycle.
    graph = {
        name: {m for m in deps if not name.startswith(m + ".")} for name, deps in _graph().items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_recognizer_knows_nothing_of_the_pipeline_or_openmmlab():
    for path in (REPO / "recognizer").rglob("*.py"):
        if path.parent.name == "configs":
            continue
        bad = {m for m in _imports(path) if m.split(".")[0] in ("pipeline", *OPENMMLAB)}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_only_pipeline_openmmlab_imports_openmmlab_code():
    for path in (REPO / "pipeline").rglob("*.py"):
        if "openmmlab" in path.relative_to(REPO).parts:
            continue
        bad = {m for m in _imports(path) if m.split(".")[0] in OPENMMLAB}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_inference_code_never_imports_training_code():
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "training" in path.relative_to(REPO).parts:
                continue
            bad = {m for m in _imports(path) if m.startswith("recognizer.training")}
            if package == "pipeline" and path.name == "recognizer.py":
                # The MMOCR recognizer trains with MMOCR's runner: it imports the objective
                # inside ``loss`` and the optimiser constructor only.
                assert bad <= {
                    "recognizer.training.objective",
                    "recognizer.training.objective.PermutationObjective",
                    "recognizer.training.trainer",
                    "recognizer.training.trainer.parameter_groups",
                }
                continue
            assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


READ_EVERY_WAY = """
import sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path

def training_modules():
    return sorted(m for m in sys.modules if m.startswith("recognizer.training"))

crop, photo, checkpoint = sys.argv[1:4]
import recognizer
model = recognizer.load(checkpoint)
model.read([crop])
print("plain", training_modules())

recognizer.load(checkpoint, backend="onnx").read([crop])
print("onnx", training_modules())

from pipeline.openmmlab import apply_openmmlab_workarounds, trusted_checkpoints
apply_openmmlab_workarounds()
from mmocr.apis import MMOCRInferencer
with trusted_checkpoints(checkpoint):
    inferencer = MMOCRInferencer(rec="tests/configs/tiny_clip4str.py", rec_weights=checkpoint)
inferencer(crop)
print("mmocr", training_modules())

from pipeline.cli import main
main(["run", photo, "--recognizer", checkpoint])
print("ocr-pipeline run", training_modules())
"""


@pytest.mark.slow
def test_reading_through_every_entry_point_loads_no_training_code(tiny_checkpoint, tmp_path):
    crop = DATA / "iiit5k_test" / "test" / "1002_1.png"
    photo = DATA / "icdar2015_dev_scenes" / "images" / "img_26.jpg"
    result = subprocess.run(
        [sys.executable, "-c", READ_EVERY_WAY, crop, photo, tiny_checkpoint],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        # The ONNX export goes into the models folder: a fresh one, not the user's.
        env={**os.environ, "OCR_PIPELINE_HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [line for line in result.stdout.splitlines() if line.endswith("]")]
    assert [r.rsplit(" ", 1)[0] for r in reports] == ["plain", "onnx", "mmocr", "ocr-pipeline run"]
    assert all(r.endswith(" []") for r in reports), reports
