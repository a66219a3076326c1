"""TSV in Tesseract's column layout (``tesseract photo out tsv``).

One row per page (level 1), block (2), paragraph (3), line (4) and word (5), with the
element's numbers, its bounding box in pixels and, for words, the confidence (0-100) and text;
other levels have confidence -1 and no text. A block is one paragraph here.
"""

from __future__ import annotations

from .base import Format, Photo, bounding_box, percent

COLUMNS = (
    "level", "page_num", "block_num", "par_num", "line_num", "word_num",
    "left", "top", "width", "height", "conf", "text",
)  # fmt: skip


def _row(level, numbers, box, conf=-1, text="") -> str:
    left, top, right, bottom = box
    cells = [level, 1, *numbers, left, top, right - left, bottom - top, conf, text]
    return "\t".join(str(cell) for cell in cells)


def render(result, photo: Photo) -> bytes:
    w, h = result.width, result.height
    rows = ["\t".join(COLUMNS), _row(1, (0, 0, 0, 0), (0, 0, w, h))]
    for b, block in enumerate(result.blocks, 1):
        box = bounding_box([block.polygon], w, h)
        rows += [_row(2, (b, 0, 0, 0), box), _row(3, (b, 1, 0, 0), box)]
        for n, line in enumerate(block.lines, 1):
            rows.append(_row(4, (b, 1, n, 0), bounding_box([line.polygon], w, h)))
            for k, word in enumerate(line.words, 1):
                text = word.text.replace("\t", " ")
                box = bounding_box([word.polygon], w, h)
                rows.append(_row(5, (b, 1, n, k), box, percent(word.confidence), text))
    return ("\n".join(rows) + "\n").encode("utf-8")


FORMAT = Format(
    "tsv",
    ".tsv",
    "Tesseract's TSV: one row per page, block, line and word",
    render,
    media_type="text/tab-separated-values; charset=utf-8",
)
