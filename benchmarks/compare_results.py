"""Compare two folders of result JSON files (schema 1 or 2): same words, polygons, lines?

    python benchmarks/compare_results.py BEFORE_DIR AFTER_DIR

Used to show that a change keeps what the pipeline reads: run ``ocr-pipeline run PHOTOS --out
DIR`` before and after it, then compare. Prints one line per photo that differs and a
summary; exits 1 if any photo differs or is missing on one side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.result import OCRResult  # noqa: E402


def differences(before: OCRResult, after: OCRResult) -> list[str]:
    """What a reader of the two results would see differ (words, polygons, lines, text)."""
    found = []
    words_a = [(w.text, w.polygon, round(w.confidence, 4)) for w in before.words]
    words_b = [(w.text, w.polygon, round(w.confidence, 4)) for w in after.words]
    if words_a != words_b:
        changed = sum(a != b for a, b in zip(words_a, words_b)) + abs(len(words_a) - len(words_b))
        found.append(f"{changed} of {len(words_a)} words differ")
    lines_a = [(line.text, line.polygon) for line in before.lines]
    lines_b = [(line.text, line.polygon) for line in after.lines]
    if lines_a != lines_b:
        found.append("lines differ")
    if before.text != after.text:
        found.append("text differs")
    return found


def compare_folders(before: Path, after: Path) -> tuple[int, list[str]]:
    """(photos compared, one message per photo that differs or is missing)."""
    names = {p.relative_to(before) for p in before.rglob("*.json")}
    names |= {p.relative_to(after) for p in after.rglob("*.json")}
    problems = []
    for name in sorted(names):
        a, b = before / name, after / name
        if not (a.is_file() and b.is_file()):
            problems.append(f"{name}: only in {'before' if a.is_file() else 'after'}")
            continue
        a_result = OCRResult.from_json(a.read_text(encoding="utf-8"))
        b_result = OCRResult.from_json(b.read_text(encoding="utf-8"))
        problems += [f"{name}: {d}" for d in differences(a_result, b_result)]
    return len(names), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    count, problems = compare_folders(args.before, args.after)
    for problem in problems:
        print(problem)
    print(f"{count} photos compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
