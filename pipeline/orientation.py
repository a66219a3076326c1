"""Which way up a page is, so that a photo taken sideways or upside down reads right.

PP-OCR's text-line orientation classifier (``ch_ppocr_mobile_v2.0_cls``, shipped in the
``rapidocr`` wheel beside the default detector's model; Apache-2.0) tells a line that reads
upright from one turned by 180 degrees. A page's largest text regions decide: when most text
runs sideways (regions much taller than wide) the page lies on its side, and the classifier,
shown those regions turned a quarter, tells which side; otherwise it tells upright from
upside down. The classifier takes a millisecond or two per region; a few regions suffice.

The classifier alone turns about one upright scene photo in ten (small, sparse words), so
a turn it proposes is checked with the recognizer: the largest regions are read both ways
and the page is turned only when the turned reading is clearly the more confident.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from recognizer.rapidocr_models import find_rapidocr_model

from .rectify import rectify_polygon, stands_upright
from .stages import Detection, Recognizer

ORIENTATIONS = (0, 90, 180, 270)
MODEL_NAME = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
INPUT_HEIGHT, INPUT_WIDTH = 48, 192
# The recognizer's check of a proposed turn: the regions it reads both ways, and how much
# more confident the turned reading must be (chosen on the dev photos).
CHECKED_REGIONS = 4
CONFIDENCE_RATIO = 2.0
MIN_CONFIDENCE = 0.3


def find_orientation_model() -> Path:
    """The text-line orientation ONNX file inside the installed ``rapidocr`` package."""
    return find_rapidocr_model(
        MODEL_NAME, "Page orientation", ", or turn page orientation off (orient_pages=False)"
    )


class PageOrientation:
    """``of_page(image, detections)``: the degrees (0, 90, 180 or 270) the photo must be
    turned clockwise for its text to read upright.

    Args:
        model_file: the classifier's ONNX file; None finds the one in ``rapidocr``.
        regions: how many of the largest regions are looked at.
        min_share: the share of those regions (by area) that must read upside down in the
            candidate turn before the page is turned; otherwise it is taken as it is.
    """

    def __init__(
        self, model_file: str | Path | None = None, regions: int = 8, min_share: float = 0.75
    ):
        import onnxruntime

        self.model_file = Path(model_file) if model_file else find_orientation_model()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(self.model_file), options, providers=["CPUExecutionProvider"]
        )
        self.regions = regions
        self.min_share = min_share

    def of_page(
        self,
        image: np.ndarray,
        detections: Sequence[Detection],
        recognizer: Recognizer | None = None,
    ) -> int:
        """The clockwise turn that makes the page upright; with a ``recognizer``, a turn
        the classifier proposes is kept only when the recognizer reads the turned regions
        with clearly more confidence than the regions as they would otherwise be read."""
        if not detections:
            return 0
        proposal, lines = self._propose(image, detections)
        if recognizer is None or proposal == 0:
            return proposal
        sample = lines[:CHECKED_REGIONS]
        # Upright in the proposal, and as the other reading of the same axis would have it.
        other = [cv2.rotate(line, cv2.ROTATE_180) for line in sample]
        readings = recognizer.read(sample + other, batch_size=len(sample) * 2)
        turned = np.mean([r.confidence for r in readings[: len(sample)]])
        kept = np.mean([r.confidence for r in readings[len(sample) :]])
        if turned >= CONFIDENCE_RATIO * kept and turned >= MIN_CONFIDENCE:
            return proposal
        return 0  # not clearly better: the page is read as it is

    def _propose(self, image: np.ndarray, detections: Sequence[Detection]) -> tuple[int, list]:
        """The classifier's turn, and the largest regions' crops upright in that turn."""
        polygons = [d.polygon.astype(np.float32).reshape(-1, 2) for d in detections]
        areas = np.array([abs(cv2.contourArea(p)) for p in polygons])
        tall = np.array([stands_upright(p) for p in polygons])
        sideways = areas[tall].sum() > 2 * areas[~tall].sum()
        chosen = [i for i in np.argsort(-areas) if tall[i] == sideways][: self.regions]
        lines = [rectify_polygon(image, polygons[i]).image for i in chosen]
        if sideways:  # text running bottom to top reads upright turned clockwise
            lines = [cv2.rotate(line, cv2.ROTATE_90_CLOCKWISE) for line in lines]
        upside_down = self.upside_down(lines) > 0.5
        weights = areas[chosen]
        share = float(weights[upside_down].sum() / max(weights.sum(), 1e-6))
        flipped = share >= self.min_share
        if flipped:
            lines = [cv2.rotate(line, cv2.ROTATE_180) for line in lines]
        if sideways:
            return (270 if flipped else 90), lines
        return (180 if flipped else 0), lines

    def upside_down(self, lines: Sequence[np.ndarray]) -> np.ndarray:
        """The classifier's probability that each upright-looking RGB line is upside down."""
        batch = np.stack([_classifier_input(line) for line in lines])
        (probabilities,) = self.session.run(None, {self.session.get_inputs()[0].name: batch})
        return probabilities[:, 1]


def _classifier_input(line: np.ndarray) -> np.ndarray:
    """A line as the classifier takes it: BGR, 48 px high, at most 192 wide (padded with
    zeros on the right), scaled to [-1, 1], channels first."""
    height, width = line.shape[:2]
    new_width = min(INPUT_WIDTH, max(1, int(np.ceil(INPUT_HEIGHT * width / max(height, 1)))))
    resized = cv2.resize(line[:, :, ::-1], (new_width, INPUT_HEIGHT)).astype(np.float32)
    padded = np.zeros((INPUT_HEIGHT, INPUT_WIDTH, 3), np.float32)
    padded[:, :new_width] = resized / 127.5 - 1.0
    return padded.transpose(2, 0, 1)


def turn_image(image: np.ndarray, degrees: int) -> np.ndarray:
    """``image`` turned clockwise by ``degrees`` (a multiple of 90)."""
    return np.ascontiguousarray(np.rot90(image, k=-(degrees // 90) % 4))


def turn_points(points, degrees: int, width: int, height: int) -> np.ndarray:
    """Points of a ``width`` x ``height`` image, where they lie once it is turned clockwise
    by ``degrees``."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    turned = {0: (x, y), 90: (height - y, x), 180: (width - x, height - y), 270: (y, width - x)}
    return np.stack(turned[degrees % 360], axis=1)


def turn_back(points, degrees: int, width: int, height: int) -> np.ndarray:
    """Points of the turned image (see ``turn_points``) back in the ``width`` x ``height``
    image's pixels."""
    if degrees % 180:  # the turned image is height x width
        return turn_points(points, (360 - degrees) % 360, height, width)
    return turn_points(points, (360 - degrees) % 360, width, height)
