"""hOCR 1.2: the result as XHTML, ``ocr_page`` > ``ocr_carea`` > ``ocr_par`` > ``ocr_line``
> ``ocrx_word``, each with its ``bbox`` and polygon (``poly``); words with ``x_wconf``.

Coordinates are whole pixels inside the image; a rotated word keeps its true outline in
``poly`` while ``bbox`` is the axis-aligned box around it.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .base import Format, Photo, bounding_box, clipped_points, percent, software_version

CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf ocrp_poly"


def _title(polygon, width: int, height: int, **extra) -> str:
    box = " ".join(map(str, bounding_box([polygon], width, height)))
    poly = " ".join(f"{x} {y}" for x, y in clipped_points(polygon, width, height))
    parts = [f"bbox {box}", f"poly {poly}"] + [f"{key} {value}" for key, value in extra.items()]
    return quoteattr("; ".join(parts))


def render(result, photo: Photo) -> bytes:
    w, h = result.width, result.height
    name = (photo.path or result.path or "").replace('"', "'")
    page_title = quoteattr(f'image "{name}"; bbox 0 0 {w} {h}; ppageno 0')
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
        ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
        "<head>",
        "<title></title>",
        '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
        f'<meta name="ocr-system" content="ocr-pipeline {software_version()}"/>',
        f'<meta name="ocr-capabilities" content="{CAPABILITIES}"/>',
        "</head>",
        "<body>",
        f'<div class="ocr_page" id="page_1" title={page_title}>',
    ]
    word_number = line_number = 0
    for b, block in enumerate(result.blocks, 1):
        title = _title(block.polygon, w, h)
        out.append(f'<div class="ocr_carea" id="block_1_{b}" title={title}>')
        out.append(f'<p class="ocr_par" id="par_1_{b}" title={title}>')
        for line in block.lines:
            line_number += 1
            title = _title(line.polygon, w, h)
            out.append(f'<span class="ocr_line" id="line_1_{line_number}" title={title}>')
            for word in line.words:
                word_number += 1
                title = _title(word.polygon, w, h, x_wconf=percent(word.confidence))
                out.append(
                    f'<span class="ocrx_word" id="word_1_{word_number}" title={title}>'
                    f"{escape(word.text)}</span>"
                )
            out.append("</span>")
        out.append("</p>")
        out.append("</div>")
    out += ["</div>", "</body>", "</html>"]
    return ("\n".join(out) + "\n").encode("utf-8")


FORMAT = Format(
    "hocr",
    ".hocr",
    "hOCR 1.2 (XHTML), as Tesseract writes it",
    render,
    media_type="text/html; charset=utf-8",
)
