"""The README's picture of a searchable PDF with words selected.

    python demo/pdf_selection.py demo/results/blue_plaque.jpg.pdf "Octavia Hill" OUT.jpg

Renders the PDF's page with poppler (``pdftoppm``) and shades the boxes that poppler's own
text extraction (``pdftotext -bbox``) gives for the selected words: what a PDF viewer
highlights when they are selected, searched for or copied. Needs poppler-utils.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image, ImageDraw


def word_boxes(pdf: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    xhtml = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [
        (w.text or "", tuple(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")))
        for w in ET.fromstring(xhtml).iter("{http://www.w3.org/1999/xhtml}word")
    ]


def main() -> int:
    pdf, phrase, target = Path(sys.argv[1]), sys.argv[2].split(), Path(sys.argv[3])
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "page"
        subprocess.run(["pdftoppm", "-r", "144", "-png", "-singlefile", pdf, prefix], check=True)
        page = Image.open(f"{prefix}.png").convert("RGB")
    scale = 144 / 72  # pdftoppm's pixels per point
    shade = Image.new("RGBA", page.size)
    draw = ImageDraw.Draw(shade)
    for text, box in word_boxes(pdf):
        if text in phrase:
            draw.rectangle([v * scale for v in box], fill=(40, 110, 255, 110))
    selected = Image.alpha_composite(page.convert("RGBA"), shade).convert("RGB")
    selected.save(target, quality=85)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
