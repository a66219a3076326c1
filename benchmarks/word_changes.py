"""Which ground-truth words a change reads right that the baseline did not, and the reverse.

    python benchmarks/word_changes.py --change "--detector default-int8"
    python benchmarks/word_changes.py --scenes ../shared/data/icdar2015_val_scenes/scenes.jsonl \\
        --base "--recognizer small-scratch" --change ""     # the default against an older model
    python benchmarks/word_changes.py --change "--detector my_config.py" --limit 20

``--base`` and ``--change`` are ``ocr-pipeline eval`` options (quoted; default: none, the
default pipeline; one option word alone needs the ``=`` form, ``--change=--detector=NAME``).
Both pipelines are built first, then read the same photos one after the other in one
process, and every readable ground-truth word gets its ``ocr-pipeline eval --explain``
category (``pipeline.error_analysis.categorize_scene``) under each. Printed: both
end-to-end scores, each word whose category changed (photo, truth, before -> after), the
count of each change of category, the words gained (read right only with the change) and
lost (only without it), and the two-sided sign test of gained against lost: the chance of
a split at least as uneven if the change made no difference and each changed word went
either way with probability one half. On 100 photos a change of a few words is usually
within it (p well above 0.05): the figure tells a gain from a reshuffle before it is taken
to the val photos.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter
from math import comb
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SCENES = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from pipeline.error_analysis import READ_RIGHT, categorize_scene  # noqa: E402

# (photo, index of the word in the photo's instances) -> (truth, category)
Categories = dict[tuple[str, int], tuple[str, str]]


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact sign test: the chance of a split at least as uneven as
    ``gained`` : ``lost`` when each changed word goes either way with probability 1/2."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


def categories_of_scene(scene: dict, polygons: list, texts: list[str]) -> Categories:
    """Each readable ground-truth word's category in one photo."""
    instances = scene["instances"]
    found = categorize_scene(scene, polygons, texts)
    return {
        (scene["file"], v.word): (instances[v.word]["text"], v.category) for v in found.verdicts
    }


def changes(before: Categories, after: Categories) -> list[tuple[str, str, str, str]]:
    """``(photo, truth, category before, category after)`` of each word that changed."""
    if before.keys() != after.keys():
        raise ValueError("the two runs categorized different words: not the same photos")
    return [
        (photo, truth, category, after[(photo, word)][1])
        for (photo, word), (truth, category) in sorted(before.items())
        if category != after[(photo, word)][1]
    ]


def report(changed: list[tuple[str, str, str, str]]) -> list[str]:
    """Printed rows: each changed word, each change of category, gained, lost, sign test."""
    rows = [f"{Path(photo).name}  {truth!r}: {a} -> {b}" for photo, truth, a, b in changed]
    transitions = Counter((a, b) for _, _, a, b in changed)
    if transitions:
        rows.append("")
        rows += [f"{count:4d}  {a} -> {b}" for (a, b), count in transitions.most_common()]
    gained = sum(b == READ_RIGHT for _, _, _, b in changed)
    lost = sum(a == READ_RIGHT for _, _, a, _ in changed)
    rows.append("")
    rows.append(
        f"words gained: {gained}, lost: {lost} (net {gained - lost:+d}); "
        f"sign test p = {sign_test(gained, lost):.2f}"
    )
    return rows


def build(options: str, scenes: Path):
    """The ``OCRPipeline`` that ``ocr-pipeline eval SCENES OPTIONS`` would run."""
    from pipeline.cli import eval_pipeline

    return eval_pipeline(scenes, shlex.split(options))


def run(pipeline, scenes: Path, limit: int | None) -> tuple[str, Categories]:
    """The end-to-end score and each word's category, ``pipeline`` over the photos."""
    from pipeline.evaluation import evaluate_scenes

    found: Categories = {}

    def on_scene(scene, polygons, texts):
        found.update(categories_of_scene(scene, polygons, texts))

    scores = evaluate_scenes(pipeline, scenes, limit=limit, on_scene=on_scene)
    return str(scores.end_to_end), found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, default=SCENES)
    parser.add_argument("--base", default="", help="ocr-pipeline eval options of the baseline")
    parser.add_argument("--change", default="", help="ocr-pipeline eval options of the change")
    parser.add_argument("--limit", type=int, default=None, help="the first N photos")
    args = parser.parse_args(argv)
    if not args.scenes.is_file():
        print(f"error: no scenes file at {args.scenes}", file=sys.stderr)
        return 2
    from recognizer.interface import WeightsUnavailableError

    pipelines = []
    for name in ("base", "change"):  # both built before either runs: a bad option fails fast
        try:
            pipelines.append(build(getattr(args, name), args.scenes))
        except (WeightsUnavailableError, ValueError, OSError) as error:
            print(f"error: --{name} {getattr(args, name)!r}: {error}", file=sys.stderr)
            return 2
    base_score, before = run(pipelines[0], args.scenes, args.limit)
    change_score, after = run(pipelines[1], args.scenes, args.limit)
    print(f"base   ({args.base or 'defaults'}): end-to-end {base_score}")
    print(f"change ({args.change or 'defaults'}): end-to-end {change_score}")
    print()
    print("\n".join(report(changes(before, after))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
