"""Exporters: every format validates against its schema and reads back in a real consumer.

Results come from the demo photos (``demo/results/*.json``, what the default models read
there), so the files hold real, rotated and multi-line text.
"""

import csv
import io
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from lxml import etree
from PIL import Image

from pipeline.formats import FORMATS, format_for_path, parse_formats
from pipeline.formats.pdf import PhotoRequiredError
from pipeline.result import OCRResult

DEMO = REPO / "demo"
PHOTOS = ("blue_plaque.jpg", "book_page.jpg", "mall_sign.jpg", "curved_sign.jpg")
VENV_BIN = Path(__import__("sys").executable).parent


def demo_result(name: str) -> tuple[OCRResult, np.ndarray]:
    result = OCRResult.from_json((DEMO / "results" / f"{name}.json").read_text(encoding="utf-8"))
    pixels = np.asarray(Image.open(DEMO / name).convert("RGB"))
    return result, pixels


@pytest.fixture(scope="module", params=PHOTOS)
def demo(request):
    return demo_result(request.param)


def box_of(polygon) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def test_every_format_renders_from_a_result_read_back_from_json(demo):
    result, pixels = demo
    again = OCRResult.from_json(result.to("json").decode())
    assert again.to_dict() == result.to_dict()
    for name in FORMATS:
        data = again.to(name, image=pixels)
        assert isinstance(data, bytes) and data, name


def test_page_xml_validates_against_the_page_2019_schema_and_reads_back_in_ocrd(demo, tmp_path):
    import ocrd_validators
    from ocrd_models.ocrd_page import parse

    result, _ = demo
    schema = etree.XMLSchema(etree.parse(str(Path(ocrd_validators.__file__).parent / "page.xsd")))
    document = etree.fromstring(result.to("page"))
    assert schema.validate(document), schema.error_log
    path = tmp_path / "page.xml"
    path.write_bytes(result.to("page"))
    page = parse(str(path), silence=True).get_Page()
    lines = [line for region in page.get_TextRegion() for line in region.get_TextLine()]
    words = [word for line in lines for word in line.get_Word()]
    assert [w.get_TextEquiv()[0].Unicode for w in words] == [w.text for w in result.words]
    assert [line.get_TextEquiv()[0].Unicode for line in lines] == [x.text for x in result.lines]
    assert len(page.get_TextRegion()) == len([b for b in result.blocks if b.lines])
    confidences = [float(w.get_TextEquiv()[0].conf) for w in words]
    assert confidences == pytest.approx([w.confidence for w in result.words], abs=1e-4)


ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"
COMPARED = ("ID", "HPOS", "VPOS", "WIDTH", "HEIGHT", "CONTENT", "POINTS")


def _layout(document: bytes) -> list[tuple]:
    """The ALTO layout as (tag, compared attributes) in document order, Page downwards."""
    layout = ET.fromstring(document).find(f"{ALTO}Layout/{ALTO}Page/{ALTO}PrintSpace")
    return [
        (element.tag.replace(ALTO, ""), {k: element.get(k) for k in COMPARED if element.get(k)})
        for element in layout.iter()
    ]


def test_alto_agrees_with_a_real_page_to_alto_conversion_of_our_page_xml(demo, tmp_path):
    # No Python package ships the ALTO v4 schema: ALTO written by OCR-D's converter from our
    # PAGE-XML is the reference, and our own ALTO must have the same layout, element by
    # element (blocks, lines, strings, spaces, shapes, boxes, outlines, texts).
    result, _ = demo
    page = tmp_path / "photo.page.xml"
    page.write_bytes(result.to("page"))
    converted = subprocess.run(
        [VENV_BIN / "page-to-alto", "--no-check-border", "--alto-version", "4.2", page],
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout
    ours = result.to("alto")
    assert _layout(ours) == _layout(converted)
    strings = ET.fromstring(ours).iter(f"{ALTO}String")
    confidences = [float(s.get("WC")) for s in strings]
    assert confidences == pytest.approx([w.confidence for w in result.words], abs=1e-4)


def test_hocr_passes_hocr_tools_check_and_holds_every_word_with_its_confidence(demo, tmp_path):
    result, _ = demo
    path = tmp_path / "photo.hocr"
    path.write_bytes(result.to("hocr"))
    check = subprocess.run(
        [VENV_BIN / "hocr-check", path], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0 and "not ok" not in check.stdout, check.stdout + check.stderr
    document = etree.fromstring(path.read_bytes())
    words = document.xpath("//*[@class='ocrx_word']")
    assert [w.text for w in words] == [w.text for w in result.words]
    for element, word in zip(words, result.words):
        properties = dict(part.strip().split(" ", 1) for part in element.get("title").split(";"))
        assert int(properties["x_wconf"]) == round(100 * word.confidence)
        left, top, right, bottom = map(int, properties["bbox"].split())
        x0, y0, x1, y1 = box_of(word.polygon)
        assert abs(left - max(x0, 0)) <= 1 and abs(bottom - min(y1, result.height - 1)) <= 1
        assert len(properties["poly"].split()) == 2 * len(word.polygon)


def test_tsv_has_tesseracts_columns_and_a_row_per_word(demo):
    result, _ = demo
    rows = list(csv.DictReader(io.StringIO(result.to("tsv").decode()), delimiter="\t"))
    assert list(rows[0]) == [
        "level", "page_num", "block_num", "par_num", "line_num", "word_num",
        "left", "top", "width", "height", "conf", "text",
    ]  # fmt: skip
    words = [row for row in rows if row["level"] == "5"]
    assert [row["text"] for row in words] == [w.text for w in result.words]
    assert all(0 <= int(row["conf"]) <= 100 for row in words)
    assert {row["level"] for row in rows} == ({"1", "2", "3", "4", "5"} if words else {"1"})


def test_the_searchable_pdf_holds_every_word_where_it_is_in_the_photo(demo, tmp_path):
    result, pixels = demo
    path = tmp_path / "photo.pdf"
    result.save(path, image=pixels)
    shown = subprocess.run(
        ["pdftotext", "-bbox", path, "-"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    found = [
        (float(w.get("xMin")), float(w.get("yMin")), float(w.get("xMax")), float(w.get("yMax")),
         w.text or "")
        for w in etree.fromstring(shown.encode()).iter("{*}word")
    ]  # fmt: skip
    page = etree.fromstring(shown.encode()).find(".//{*}page")
    assert (float(page.get("width")), float(page.get("height"))) == (result.width, result.height)
    for word in result.words:
        # pdftotext may cut a turned word in pieces: the pieces inside its box make the word.
        x0, y0, x1, y1 = box_of(word.polygon)
        margin = 0.25 * max(y1 - y0, 1)
        inside = [
            text
            for left, top, right, bottom, text in found
            if x0 - margin <= (left + right) / 2 <= x1 + margin
            and y0 - margin <= (top + bottom) / 2 <= y1 + margin
        ]
        # Where turned words overlap (the curved sign), pdftotext interleaves their letters
        # in its own order: then the word's letters must all be there.
        pieces = "".join(inside)
        if _overlaps_another(word, result.words):
            assert _holds_letters(pieces, word.text), (word.text, inside)
        else:
            assert word.text in pieces, (word.text, inside)


def _overlaps_another(word, words) -> bool:
    x0, y0, x1, y1 = box_of(word.polygon)
    for other in words:
        a0, b0, a1, b1 = box_of(other.polygon)
        if other is not word and a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1:
            return True
    return False


def _holds_letters(text: str, letters: str) -> bool:
    have, need = Counter(text), Counter(letters)
    return all(have[letter] >= count for letter, count in need.items())


def test_a_pdf_needs_the_photo_and_save_takes_the_format_from_the_name(tmp_path):
    result, pixels = demo_result("blue_plaque.jpg")
    with pytest.raises(PhotoRequiredError):
        result.to("pdf")
    assert result.save(tmp_path / "p.alto.xml").read_bytes() == result.to("alto")
    assert result.save(tmp_path / "p.page.xml").read_bytes() == result.to("page")
    assert format_for_path("x.hocr").name == "hocr" and format_for_path("a/b.TSV").name == "tsv"
    with pytest.raises(ValueError, match="cannot tell the format"):
        result.save(tmp_path / "p.docx")
    with pytest.raises(ValueError, match="unknown output format"):
        parse_formats("json,docx")
    assert [f.name for f in parse_formats("pdf, json,pdf")] == ["pdf", "json"]


def test_turned_words_keep_their_outline_in_every_xml_format():
    result, _ = demo_result("blue_plaque.jpg")
    turned = result.words[0]  # "Southwark", set at an angle on the plaque
    xs = [p[0] for p in turned.polygon]
    assert turned.polygon[0][1] != turned.polygon[1][1]  # really turned
    points = " ".join(f"{round(x)},{round(y)}" for x, y in turned.polygon)
    assert f'points="{points}"' in result.to("page").decode()
    assert f'POINTS="{points}"' in result.to("alto").decode()
    assert f"poly {' '.join(f'{round(x)} {round(y)}' for x, y in turned.polygon)}" in (
        result.to("hocr").decode()
    )
    assert min(xs) < max(xs)


@pytest.mark.slow
def test_a_folder_run_writes_every_format_asked_for_and_skips_per_format(tmp_path, capsys):
    from pipeline.cli import main

    def run(*args):
        status = main(["run", *map(str, args)])
        return status, capsys.readouterr().err

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "plaque.jpg").write_bytes((DEMO / "blue_plaque.jpg").read_bytes())
    out = tmp_path / "out"
    status, errors = run(photos, "--out", out, "--format", "json,alto,pdf")
    assert status == 0, errors
    written = sorted(p.name for p in out.iterdir())
    assert written == ["plaque.jpg.alto.xml", "plaque.jpg.json", "plaque.jpg.pdf"]
    result = OCRResult.from_json((out / "plaque.jpg.json").read_text(encoding="utf-8"))
    assert "Octavia" in result.text
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert "0 photos read, 1 already done" in run(photos, "--out", out, "--format", "alto,json")[1]
    added = run(photos, "--out", out, "--format", "json,hocr,tsv")[1]
    assert "0 photos read, 0 already done, 1 completed from their JSON" in added
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert {name: after[name] for name in before} == before  # what was there is kept
    assert sorted(set(after) - set(before)) == ["plaque.jpg.hocr", "plaque.jpg.tsv"]
    # The added files describe the reading recorded in the JSON, word for word.
    assert (out / "plaque.jpg.tsv").read_bytes() == result.to("tsv")

    status, errors = run(photos, "--out", out, "--format", "json,docx")
    assert status == 2 and "unknown output format docx" in errors
    status, errors = run(photos / "plaque.jpg", "--format", "alto")
    assert status == 2 and "only text or json can be printed" in errors
