import io
import os
import subprocess
import sys
from pathlib import Path

# No test may reach the network: model downloads must come from local caches or fakes.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"


def run_python(*args, cwd=REPO, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``python args...`` (a script and its arguments) as a user runs it; output captured as
    text."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_module(module: str, *args, cwd=REPO, env=None) -> subprocess.CompletedProcess:
    """``python -m module args...`` as a user runs it; output captured as text."""
    return run_python("-m", module, *args, cwd=cwd, env=env)


REFERENCE_FIXTURE = SHARED / "fixtures" / "clip4str_reference_tiny.pt"
# The one font family that the rendering tests use: scanning it takes a moment.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@pytest.fixture(scope="session")
def reference():
    """Outputs of the official CLIP4STR implementation on a tiny random model (see SPEC.md)."""
    if not REFERENCE_FIXTURE.is_file():
        pytest.fail(f"missing {REFERENCE_FIXTURE}: the shared fixtures must sit beside the repo")
    # The fixture holds PNG bytes and strings besides tensors; it is our own trusted file.
    return torch.load(REFERENCE_FIXTURE, weights_only=False)


@pytest.fixture(scope="session")
def reference_crops(reference):
    return [Image.open(io.BytesIO(png)).copy() for png in reference["crops_png"]]


def released_layout_checkpoint(reference, variant: str = "random") -> dict:
    """A checkpoint dict exactly as the official code saves it, for one fixture variant."""
    overrides = reference["variants"][variant]["overrides"]
    state = {**reference["checkpoint"]["state_dict"], **overrides}
    return {
        "state_dict": state,
        "hyper_parameters": dict(reference["checkpoint"]["hyper_parameters"]),
    }


@pytest.fixture
def tiny_checkpoint(reference, tmp_path) -> Path:
    path = tmp_path / "tiny.ckpt"
    torch.save(released_layout_checkpoint(reference), path)
    return path
