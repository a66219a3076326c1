"""Why words are not read right: one category per ground-truth word, with example pictures.

``categorize_words`` sorts each ground-truth word of one photo into exactly one category,
using the same rules as the end-to-end score (``pipeline.evaluation``): IoU >= 0.5,
texts compared lowercase alphanumeric, one-to-one greedy matching, don't-care words left
out. ``ErrorAnalysis`` pools photos, prints a table and writes example crops for a person
to look at (``ocr-pipeline eval SCENES.jsonl --explain --examples DIR``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import Polygon
from shapely.ops import unary_union

from recognizer.metrics import norm_alnum

from .evaluation import PolygonLike, _greedy_one_to_one, _inside_dont_care, _iou, to_shapely

READ_RIGHT = "read right"
WRONG_TEXT = "wrong text"
CUT_OFF = "box cut off"
TOO_LARGE = "box too large"
MERGED = "merged with a neighbor"
SPLIT = "split into pieces"
MISSED = "missed"
# The order of the table (for the precedence see ``categorize_words``).
CATEGORIES = (READ_RIGHT, WRONG_TEXT, CUT_OFF, TOO_LARGE, MERGED, SPLIT, MISSED)

IOU_THRESHOLD = 0.5  # a box "finds" a word, as in the scores
MOST = 0.5  # "most of" an area
# A matched box covering less than this share of the word's length has cut it off.
LENGTH_COVERED = 0.85
# A box lying on a word must cover at least this share of it to count as having found a part.
MEANINGFUL_PART = 0.2


@dataclass(frozen=True)
class WordVerdict:
    """The category of one ground-truth word and the predictions it rests on."""

    word: int  # index of the word in the photo's ground truth
    category: str
    predictions: tuple[int, ...] = ()  # matched box, merging box(es), pieces ...


@dataclass(frozen=True)
class Categorized:
    """The verdicts on one photo's cared ground-truth words (in ground-truth order)."""

    verdicts: list[WordVerdict]
    false_positives: list[int]  # scored predictions that no verdict rests on
    num_predictions: int  # predictions scored (those inside don't-care regions excluded)


def categorize_words(
    detections: Sequence[PolygonLike],
    texts: Sequence[str],
    ground_truth: Sequence[PolygonLike],
    truth_texts: Sequence[str],
    ignore: Sequence[bool] | None = None,
) -> Categorized:
    """One category for each cared ground-truth word of one photo.

    As in ``end_to_end_match``, ground-truth words marked ``ignore`` or without an
    alphanumeric character are don't-care (they get no verdict), and predictions lying
    mostly (> 0.5 of their area) inside a don't-care region are dropped. Of a box B and a
    word W, "B covers W" is the share |B ∩ W| / |W| and "B lies on W" means
    |B ∩ W| / |B| >= 0.5.

    First the pairing, in two rounds of one-to-one greedy matching (highest IoU first):

    - read right: paired exactly as ``end_to_end_match`` pairs (IoU >= 0.5 and the same
      lowercase alphanumeric text), so the count equals the end-to-end true positives.
    - then the boxes and words left are paired on IoU >= 0.5 alone, as in
      ``match_detections``. A word paired this way was found but read differently:

      merged with a neighbor if its box also covers at least half of another ground-truth
      word (don't-care ones included); else box cut off if the box covers less than 85%
      of the word's length along its reading direction, or its text is a strict part of
      the truth ("ASS" for "CLASS"); else wrong text.

    A word no box was paired with is

    - merged with a neighbor if a box covers at least half of it and of another
      ground-truth word, or covers at least half of it, is larger and reads more characters
      than the word (it took in text nobody annotated);
    - else box too large if a box covers at least half of it and is larger, but holds no
      other word: the word alone, with too much room around it for IoU >= 0.5;
    - else split into pieces if two or more boxes lie on it and together cover at least
      half of it;
    - else box cut off if a box lies on it and covers at least 20% of it (too little, or
      too far to one side, for IoU >= 0.5);
    - else missed: no box, or only boxes lying mostly elsewhere, or slivers.

    ``false_positives`` are the scored predictions no verdict rests on (background, text
    without ground truth, extra boxes on a word already paired).
    """
    ignore = [False] * len(ground_truth) if ignore is None else list(ignore)
    if not len(ignore) == len(ground_truth) == len(truth_texts):
        raise ValueError("ground truth, truth texts and ignore flags differ in length")
    if len(detections) != len(texts):
        raise ValueError(f"{len(texts)} texts for {len(detections)} detections")
    ignore = [skip or not norm_alnum(t) for skip, t in zip(ignore, truth_texts)]
    dets = [to_shapely(p) for p in detections]
    gts = [to_shapely(p) for p in ground_truth]
    dropped = set(_inside_dont_care(dets, [g for g, skip in zip(gts, ignore) if skip], 0.5))
    kept = [d for d in range(len(dets)) if d not in dropped]
    cared = [g for g in range(len(gts)) if not ignore[g]]
    read = [norm_alnum(t) for t in texts]
    truth = [norm_alnum(t) for t in truth_texts]

    verdicts: dict[int, WordVerdict] = {}
    right = _greedy_one_to_one(
        [
            (iou, d, g)
            for d in kept
            for g in cared
            if read[d] == truth[g] and (iou := _iou(dets[d], gts[g])) >= IOU_THRESHOLD
        ]
    )
    for d, g, _ in right:
        verdicts[g] = WordVerdict(g, READ_RIGHT, (d,))
    taken = {d for d, _, _ in right}
    free = [d for d in kept if d not in taken]
    boxed = _greedy_one_to_one(
        [
            (iou, d, g)
            for d in free
            for g in cared
            if g not in verdicts and (iou := _iou(dets[d], gts[g])) >= IOU_THRESHOLD
        ]
    )
    for d, g, _ in boxed:
        if _covers_another(dets[d], g, gts):
            verdicts[g] = WordVerdict(g, MERGED, (d,))
            continue
        cut = length_covered(ground_truth[g], detections[d]) < LENGTH_COVERED
        cut = cut or _strict_part(read[d], truth[g])
        verdicts[g] = WordVerdict(g, CUT_OFF if cut else WRONG_TEXT, (d,))
    for g in cared:
        if g not in verdicts:
            verdicts[g] = _unpaired_verdict(g, gts, kept, dets, read, truth)
    ordered = [verdicts[g] for g in cared]
    used = {d for v in ordered for d in v.predictions}
    return Categorized(ordered, [d for d in kept if d not in used], len(kept))


def categorize_scene(
    scene: dict, polygons: Sequence[PolygonLike], texts: Sequence[str]
) -> Categorized:
    """``categorize_words`` for the predictions on one ``scenes.jsonl`` record."""
    instances = scene["instances"]
    return categorize_words(
        polygons,
        texts,
        [i["polygon"] for i in instances],
        [i["text"] for i in instances],
        [i["ignore"] for i in instances],
    )


def _strict_part(read: str, truth: str) -> bool:
    """Whether ``read`` is a shorter, non-empty run of ``truth``'s characters."""
    return bool(read) and read != truth and read in truth


def _unpaired_verdict(
    g: int,
    gts: list[Polygon],
    kept: list[int],
    dets: list[Polygon],
    read: list[str],
    truth: list[str],
) -> WordVerdict:
    """The category of a word no box was paired with (see ``categorize_words``); ``read``
    and ``truth`` are the predictions' and the words' lowercase alphanumeric texts."""
    word = gts[g]
    if word.is_empty or word.area == 0:
        return WordVerdict(g, MISSED)
    overlaps = {d: word.intersection(dets[d]).area for d in kept if word.intersects(dets[d])}
    overlaps = {d: a for d, a in overlaps.items() if a > 0}
    cover = {d: a / word.area for d, a in overlaps.items()}
    covering = [d for d in overlaps if cover[d] >= MOST]
    larger = [d for d in covering if dets[d].area > word.area]
    merging = tuple(
        d
        for d in covering
        if _covers_another(dets[d], g, gts) or (d in larger and len(read[d]) > len(truth[g]))
    )
    if merging:
        return WordVerdict(g, MERGED, merging)
    if larger:
        return WordVerdict(g, TOO_LARGE, tuple(larger))
    on_word = tuple(d for d, a in overlaps.items() if a / dets[d].area >= MOST)
    if len(on_word) >= 2:
        together = unary_union([dets[d] for d in on_word]).intersection(word).area
        if together / word.area >= MOST:
            return WordVerdict(g, SPLIT, on_word)
    parts = tuple(d for d in on_word if cover[d] >= MEANINGFUL_PART)
    if parts:
        return WordVerdict(g, CUT_OFF, parts)
    return WordVerdict(g, MISSED)


def _covers_another(box: Polygon, g: int, gts: list[Polygon]) -> bool:
    """Whether ``box`` covers at least half of a ground-truth word other than word ``g``."""
    return any(
        h != g and other.area > 0 and other.intersection(box).area / other.area >= MOST
        for h, other in enumerate(gts)
        if other.intersects(box)
    )


def length_covered(word_polygon: PolygonLike, box_polygon: PolygonLike) -> float:
    """The share of a word's length, along its reading direction, that a box covers.

    The reading direction comes from the point order (ICDAR quads start at the top-left
    corner and go clockwise); other polygons use their minimum rotated rectangle's long side.
    """
    word = to_shapely(word_polygon)
    inside = word.intersection(to_shapely(box_polygon))
    if inside.is_empty:
        return 0.0
    direction = reading_direction(word_polygon, word)
    along_word = shapely.get_coordinates(word) @ direction
    along_inside = shapely.get_coordinates(inside) @ direction
    length = along_word.max() - along_word.min()
    return float((along_inside.max() - along_inside.min()) / length) if length > 0 else 0.0


def reading_direction(points: PolygonLike, shape: Polygon) -> np.ndarray:
    """A unit vector along the text of a word polygon."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) == 4:
        vector = (points[1] - points[0]) + (points[2] - points[3])
    else:
        corners = shapely.get_coordinates(shape.minimum_rotated_rectangle)[:4]
        edges = np.diff(corners, axis=0)
        vector = max(edges, key=lambda e: float(np.hypot(*e))) if len(edges) else np.zeros(2)
    norm = float(np.hypot(*vector))
    return vector / norm if norm > 0 else np.array([1.0, 0.0])


@dataclass(frozen=True)
class Example:
    """One categorized word, kept for a picture."""

    category: str
    photo: str
    truth: str
    truth_polygon: list[float]
    predicted: list[tuple[list[float], str]]  # (polygon, text) of the boxes it rests on
    region: tuple[float, float, float, float]  # left, top, right, bottom of the crop
    others: list[list[float]]  # polygons of the photo's other boxes within the region


@dataclass
class ErrorAnalysis:
    """Category counts pooled over photos, and the first examples of each category."""

    examples_per_category: int = 5
    counts: Counter = field(default_factory=Counter)
    false_positives: int = 0
    num_predictions: int = 0
    examples: dict[str, list[Example]] = field(default_factory=dict)
    # Of the missed words, those a word left out under the confidence cut-off was boxed
    # (IoU >= 0.5) around, and those of them it read right; None: not looked at.
    missed_left_out: int | None = None
    missed_left_out_right: int = 0

    def add_scene(
        self,
        scene: dict,
        polygons: Sequence[PolygonLike],
        texts: Sequence[str],
        left_out: Sequence[tuple[PolygonLike, str]] | None = None,
    ):
        """Categorize one photo's predictions (a ``scenes.jsonl`` record) and pool them.

        ``left_out``: the words (polygon, text) the pipeline read in the photo but left out
        under its confidence cut-off; a missed word one of them boxed is counted apart."""
        instances = scene["instances"]
        result = categorize_scene(scene, polygons, texts)
        self.false_positives += len(result.false_positives)
        self.num_predictions += result.num_predictions
        for verdict in result.verdicts:
            self.counts[verdict.category] += 1
            kept = self.examples.setdefault(verdict.category, [])
            if len(kept) < self.examples_per_category:
                kept.append(_example(scene, verdict, polygons, texts))
        if left_out is not None:
            missed = [instances[v.word] for v in result.verdicts if v.category == MISSED]
            boxed, right = _boxed_by_left_out(missed, left_out)
            self.missed_left_out = (self.missed_left_out or 0) + boxed
            self.missed_left_out_right += right

    @property
    def num_words(self) -> int:
        return sum(self.counts.values())

    def format(self) -> str:
        """A table: words per category, their share of all cared words and of the words
        not read right, then the predictions that match no ground-truth word."""
        total = self.num_words
        misses = total - self.counts[READ_RIGHT]
        rows = [("category", "words", "of all", "of misses")]
        for category in CATEGORIES:
            count = self.counts[category]
            of_misses = "-" if category == READ_RIGHT else _percent(count, misses)
            rows.append((category, str(count), _percent(count, total), of_misses))
        rows.append(("all cared words", str(total), _percent(total, total), ""))
        lines = [f"{a:<24}{b:>7}{c:>9}{d:>11}".rstrip() for a, b, c, d in rows]
        lines.append(
            f"false positives (predictions matching no ground-truth word): "
            f"{self.false_positives} of {self.num_predictions} scored predictions"
        )
        if self.missed_left_out is not None:
            lines.append(
                f"missed words boxed but left out under the confidence cut-off: "
                f"{self.missed_left_out} of {self.counts[MISSED]} "
                f"({self.missed_left_out_right} of them read right)"
            )
        return "\n".join(lines)

    def write_examples(self, folder: Path) -> int:
        """Crop pictures of the kept examples and ``index.tsv`` (category, photo, truth,
        predicted texts, picture) in ``folder``; returns the number of pictures."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for category in CATEGORIES:
            for number, example in enumerate(self.examples.get(category, []), start=1):
                photo = Path(example.photo)
                name = f"{_slug(category)}_{number:02d}_{photo.stem}_{_slug(example.truth)}.png"
                example_picture(example).save(folder / name)
                texts = " | ".join(_one_line(text) for _, text in example.predicted)
                rows.append([category, photo.name, _one_line(example.truth), texts, name])
        with open(folder / "index.tsv", "w", encoding="utf-8", newline="") as index:
            index.write("category\tphoto\ttruth\tpredicted\tpicture\n")
            index.writelines("\t".join(row) + "\n" for row in rows)
        return len(rows)


def _boxed_by_left_out(
    missed: list[dict], left_out: Sequence[tuple[PolygonLike, str]]
) -> tuple[int, int]:
    """How many of the missed ground-truth words (``scenes.jsonl`` instances) a left-out
    word (polygon, text) was boxed around at IoU >= 0.5, and how many of those it read
    right."""
    boxes = [(to_shapely(polygon), norm_alnum(text)) for polygon, text in left_out]
    boxed = right = 0
    for word in missed:
        shape, truth = to_shapely(word["polygon"]), norm_alnum(word["text"])
        on_word = [read for box, read in boxes if _iou(box, shape) >= IOU_THRESHOLD]
        boxed += bool(on_word)
        right += truth in on_word
    return boxed, right


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "x"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _example(scene: dict, verdict: WordVerdict, polygons, texts) -> Example:
    truth = scene["instances"][verdict.word]
    word = np.reshape(np.asarray(truth["polygon"], dtype=np.float64), (-1, 2))
    predicted = [(_flat(polygons[d]), texts[d]) for d in verdict.predictions]
    points = np.concatenate([word, *(np.reshape(p, (-1, 2)) for p, _ in predicted)])
    margin = max(16.0, 0.6 * float(np.ptp(word[:, 1])))
    region = (
        float(points[:, 0].min() - margin),
        float(points[:, 1].min() - margin),
        float(points[:, 0].max() + margin),
        float(points[:, 1].max() + margin),
    )
    box = shapely.box(*region)
    others = [
        _flat(p)
        for d, p in enumerate(polygons)
        if d not in verdict.predictions and box.intersects(to_shapely(p))
    ]
    return Example(
        verdict.category, scene["file"], truth["text"], _flat(word), predicted, region, others
    )


def _flat(polygon: PolygonLike) -> list[float]:
    return np.asarray(polygon, dtype=np.float64).reshape(-1).tolist()


TRUTH_COLOR = (0, 220, 0)
PREDICTED_COLOR = (255, 0, 220)
OTHER_COLOR = (255, 170, 0)
# Crops are enlarged to at least this width, so that small words can be seen.
MIN_PICTURE_WIDTH = 480
CAPTION_LINE = 22  # pixels


def example_picture(example: Example) -> Image.Image:
    """The word's surroundings in the photo: the ground-truth word outlined in green, the
    boxes its category rests on in magenta, the photo's other boxes nearby in orange, and a
    caption with the category, the truth and the text read."""
    from .photos import load_photo
    from .visualize import _font

    photo = Image.fromarray(load_photo(example.photo))
    left, top, right, bottom = example.region
    left, top = int(max(0, left)), int(max(0, top))
    right = max(left + 1, int(min(photo.width, right)))
    bottom = max(top + 1, int(min(photo.height, bottom)))
    scale = max(1.0, MIN_PICTURE_WIDTH / (right - left))
    crop = photo.crop((left, top, right, bottom))
    crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.BICUBIC)
    draw = ImageDraw.Draw(crop)
    outlines = [(p, OTHER_COLOR, 2) for p in example.others]
    outlines += [(p, PREDICTED_COLOR, 3) for p, _ in example.predicted]
    outlines.append((example.truth_polygon, TRUTH_COLOR, 3))
    for polygon, color, width in outlines:
        corners = (np.reshape(polygon, (-1, 2)) - (left, top)) * scale
        draw.polygon([tuple(c) for c in corners], outline=color, width=width)

    font = _font(16)
    read = ", ".join(repr(text) for _, text in example.predicted) or "-"
    caption = [example.category, f"truth: {example.truth!r}", f"read: {read}"]
    width = max([crop.width] + [int(draw.textlength(line, font=font)) + 12 for line in caption])
    picture = Image.new("RGB", (width, crop.height + CAPTION_LINE * len(caption) + 6))
    picture.paste(crop, (0, 0))
    draw = ImageDraw.Draw(picture)
    for row, line in enumerate(caption):
        draw.text((6, crop.height + 4 + row * CAPTION_LINE), line, font=font, fill="white")
    return picture
