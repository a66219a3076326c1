"""Ways to weigh the line reader's reading of each word against the recognizer's, scored.

    python benchmarks/line_reader_rules.py                       # the dev photos
    python benchmarks/line_reader_rules.py --scenes SCENES.jsonl --limit 20

The default detector's line reader (``pipeline.ctc_splitting``) reads every word it cuts out
of a line; the recognizer then reads the word's crop again. This runs the default pipeline
once over the photos, keeping every word with both readings, and scores each rule on that
one run as ``ocr-pipeline eval`` scores a result (end-to-end and detection H-mean, words read
right, words kept):

- which text: the recognizer's, or the line reader's where its confidence is higher by more
  than a margin (``line_reader_margin``);
- which words stay: those whose recognizer confidence reaches the cut-off (as the pipeline
  does), or also those the line reader alone is sure enough of;
- which words the recognizer need not read at all: those the line reader read with at least
  a given confidence (``line_reader_trust``; words of 4 letters or digits or more), whose
  text and confidence are then the line reader's. The "unread" column counts them.

Settings are chosen on the dev photos (the default); the validation photos only confirm a
choice already made (``ocr-pipeline eval`` with it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "data" / "icdar2015_dev_scenes" / "scenes.jsonl"

from pipeline.core import OCRPipeline, line_reading_stands, surer_reading  # noqa: E402
from pipeline.evaluation import SceneReport, read_scenes, score_scene  # noqa: E402
from pipeline.layout import clamp_to_image  # noqa: E402
from pipeline.orientation import turn_back  # noqa: E402
from recognizer import Reading  # noqa: E402


@dataclass(frozen=True)
class Word:
    polygon: list  # photo pixels, clamped to the photo as results are
    recognized: Reading  # the recognizer's reading (most confident crop variant)
    line_reading: Reading | None  # the line reader's, where it cut the word


class _KeepingBoth(OCRPipeline):
    """The default pipeline, recording each region's two readings as pages are assembled."""

    def __init__(self) -> None:
        super().__init__(min_confidence=0.0, line_reader_margin=None, line_reader_trust=None)
        self.words: dict[str, list[Word]] = {}

    def _assemble(self, p, page, best, min_confidence):
        height, width = page.image.shape[:2]
        # Back to the photo as loaded, as ``OCRResult.turned_back`` does.
        size = (height, width) if page.orientation % 180 else (width, height)
        words = []
        for d, detection in enumerate(page.detections):
            polygon = clamp_to_image(detection.polygon, width, height)
            if page.orientation:
                polygon = turn_back(polygon, page.orientation, *size).tolist()
            words.append(Word(polygon, best[(p, d)], detection.reading))
        self.words[page.path] = words
        return super()._assemble(p, page, best, min_confidence)


@dataclass(frozen=True)
class Rule:
    name: str
    margin: float | None  # None: the recognizer's text always
    # A word the recognizer's confidence does not keep is kept where the line reader's
    # reaches this (a number, or "cut-off": the same cut-off); None: it is not.
    line_keeps_above: float | str | None = None
    trust: float | None = None  # the line reader's reading stands from this confidence on

    def trusted(self, word: Word) -> bool:
        return line_reading_stands(word.line_reading, self.trust)

    def text(self, word: Word, cut_off: float) -> str | None:
        """The word's text under this rule, or None where the word is left out."""
        recognized, line = word.recognized, word.line_reading
        if self.trusted(word):
            recognized = line  # not read by the recognizer
        line_cut_off = cut_off if self.line_keeps_above == "cut-off" else self.line_keeps_above
        kept = recognized.confidence >= cut_off or (
            line_cut_off is not None and line is not None and line.confidence >= line_cut_off
        )
        if not kept:
            return None
        return surer_reading(recognized, line, self.margin).text or None


RULES = (
    Rule("the recognizer's text only", None),
    Rule("surer text, margin 0", 0.0),
    Rule("surer text, margin 0.1", 0.1),
    Rule("surer text, margin 0.2", 0.2),
    Rule("surer text, margin 0; line reader alone keeps from the cut-off", 0.0, "cut-off"),
    Rule("surer text, margin 0; line reader alone keeps from 0.8", 0.0, 0.8),
    Rule("surer text, margin 0; line reader alone keeps from 0.9", 0.0, 0.9),
    Rule("surer text, margin 0; line reader's stands from 0.95", 0.0, trust=0.95),
    Rule("surer text, margin 0; line reader's stands from 0.98", 0.0, trust=0.98),
    Rule("surer text, margin 0; line reader's stands from 0.99", 0.0, trust=0.99),
    Rule("surer text, margin 0; line reader's stands from 0.999", 0.0, trust=0.999),
    Rule("surer text, margin 0.1; line reader's stands from 0.98", 0.1, trust=0.98),
    Rule("surer text, margin 0.1; line reader's stands from 0.999", 0.1, trust=0.999),
    Rule("the recognizer's text; line reader's stands from 0.98", None, trust=0.98),
    Rule("the recognizer's text; line reader's stands from 0.999", None, trust=0.999),
)


def score(rule: Rule, scenes: list[dict], words: dict[str, list[Word]], cut_off: float):
    report = SceneReport()
    for scene in scenes:
        polygons, texts = [], []
        for word in words[scene["file"]]:
            text = rule.text(word, cut_off)
            if text:
                polygons.append(word.polygon)
                texts.append(text)
        score_scene(report, scene, polygons, texts)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, default=DEV, help="scenes.jsonl (default: dev)")
    parser.add_argument("--limit", type=int, default=None, help="the first N photos only")
    parser.add_argument(
        "--cut-off", type=float, default=0.4, help="the confidence cut-off (default: 0.4)"
    )
    args = parser.parse_args(argv)
    if not args.scenes.is_file():
        parser.error(f"no scenes file at {args.scenes}")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    scenes = read_scenes(args.scenes, args.limit)
    pipeline = _KeepingBoth()
    for _, outcome in pipeline.ocr_many([scene["file"] for scene in scenes]):
        if isinstance(outcome, Exception):
            raise outcome
    print(f"{len(scenes)} photos, {sum(map(len, pipeline.words.values()))} regions")
    header = f"{'rule':62s} {'end to end':>10s} {'right':>6s} {'kept':>5s} {'detection':>9s}"
    print(f"{header} {'unread':>6s}")
    every_word = [word for words in pipeline.words.values() for word in words]
    for rule in RULES:
        report = score(rule, scenes, pipeline.words, args.cut_off)
        e2e, det = report.end_to_end, report.detection
        unread = sum(rule.trusted(word) for word in every_word)
        print(
            f"{rule.name:62s} {e2e.hmean:10.4f} {e2e.true_positives:6d} "
            f"{det.num_detections:5d} {det.hmean:9.4f} {unread:6d}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
