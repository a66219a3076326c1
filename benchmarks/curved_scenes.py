"""A development set of photos with curved text: words on arcs, circles and sine waves.

    python benchmarks/curved_scenes.py --out /tmp/curved_scenes              # 300 scenes, seed 0
    python benchmarks/curved_scenes.py --out DIR --count 50 --seed 1
    ocr-pipeline eval /tmp/curved_scenes/scenes.jsonl

Writes OUT/images/scene_NNNN.jpg and OUT/scenes.jsonl in the format of the ICDAR 2015 scene
sets: the ICDAR 2015 dev photos with 1-4 words each set on them, every word with a polygon
that follows its curve (Total-Text style: points along the top edge, then back along the
bottom), the photo's own text regions as don't-care "###" instances. The same arguments
write the same bytes (on a machine with the same fonts and word lists). See
recognizer/training/synth/curved_scenes.py for how the scenes are made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from recognizer.training.synth.curved_scenes import (  # noqa: E402
    CurvedSceneGenerator,
    write_curved_scenes,
)
from recognizer.training.synth.fonts import DEFAULT_FONT_DIRS, discover_fonts  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the set to")
    parser.add_argument("--count", type=int, default=300, help="scenes to write (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--backgrounds", type=Path, default=DEV, help="scenes.jsonl of the photos to draw on"
    )
    parser.add_argument(
        "--fonts",
        type=Path,
        nargs="+",
        default=[Path(d) for d in DEFAULT_FONT_DIRS],
        help="folders to take fonts from (default: the system's font folders)",
    )
    args = parser.parse_args(argv)

    cv2.setNumThreads(0)  # small arrays: OpenCV's threads cost more than they bring
    generator = CurvedSceneGenerator(args.backgrounds, fonts=discover_fonts(args.fonts))
    summary = write_curved_scenes(args.out, generator, args.count, args.seed)
    print(f"{args.out / 'scenes.jsonl'}: {summary}")
    print(f"{args.out / 'images'}: scene_0000.jpg .. scene_{args.count - 1:04d}.jpg")


if __name__ == "__main__":
    main()
