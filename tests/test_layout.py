"""Words are grouped into lines and lines put into reading order."""

import numpy as np

from pipeline.layout import (
    enclosing_rectangle,
    group_into_blocks,
    group_into_lines,
    text_direction,
)


def box(x, y, w=40, h=20, skew=0.0):
    return np.float32([[x, y], [x + w, y + skew], [x + w, y + h + skew], [x, y + h]])


def test_words_of_a_paragraph_form_lines_top_to_bottom_left_to_right():
    words = {
        "the": box(10, 10),
        "quick": box(60, 12),
        "fox": box(110, 9),
        "jumps": box(10, 50),
        "over": box(60, 51),
        "lazy": box(10, 90),
    }
    names = list(words)
    order = [4, 0, 5, 2, 1, 3]  # shuffled input order
    polygons = [words[names[i]] for i in order]
    lines = group_into_lines(polygons)
    read = [[names[order[i]] for i in line] for line in lines]
    assert read == [["the", "quick", "fox"], ["jumps", "over"], ["lazy"]]


def test_two_columns_read_left_column_lines_before_moving_down():
    # Two headings side by side in one band, then a full-width line below.
    polygons = [box(300, 10), box(10, 10), box(10, 60, w=400)]
    assert group_into_lines(polygons) == [[1], [0], [2]]


def test_a_slightly_sloped_line_stays_one_line():
    polygons = [box(10 + 50 * i, 10 + 4 * i, skew=4) for i in range(6)]
    assert group_into_lines(polygons) == [[0, 1, 2, 3, 4, 5]]


def _turned(polygon: np.ndarray, degrees: float) -> np.ndarray:
    """``polygon`` turned about the origin, counterclockwise as seen on screen."""
    a = np.radians(degrees)
    turn = np.float32([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    return polygon @ turn.T + np.float32([100, 400])


def test_a_page_tilted_by_twelve_degrees_keeps_its_lines():
    # Three lines of four words, tightly spaced (as in a book), photographed at an angle:
    # a line rises 45 px over its length, more than the 30 px between lines.
    page = [[box(10 + 55 * i, 10 + 30 * row, w=50) for i in range(4)] for row in range(3)]
    for degrees in (12, -12):
        polygons = [_turned(p, degrees) for line in page for p in line]
        assert abs(text_direction(polygons) - degrees) < 1e-3
        order = [7, 2, 11, 0, 5, 9, 1, 4, 10, 3, 8, 6]  # shuffled
        lines = group_into_lines([polygons[i] for i in order])
        assert [[order[i] for i in line] for line in lines] == [
            [0, 1, 2, 3],
            [4, 5, 6, 7],
            [8, 9, 10, 11],
        ]


def test_vertical_words_do_not_set_the_page_direction():
    assert text_direction([box(10, 10, w=20, h=80), box(40, 10, w=20, h=80)]) == 0.0
    assert text_direction([]) == 0.0


def test_words_far_apart_on_one_row_are_separate_lines():
    polygons = [box(10, 10), box(600, 10)]
    assert group_into_lines(polygons) == [[0], [1]]


def test_no_words_no_lines():
    assert group_into_lines([]) == []


# ------------------------------------------------------------------ blocks


def line(x, y, w=300, h=20):
    """A line's polygon as the pipeline makes it: a rectangle, clockwise from top-left."""
    return box(x, y, w, h)


def test_lines_close_below_each_other_form_one_block():
    # Body text: 20 px lines, 10 px apart.
    lines = [line(10, 10), line(10, 40, w=280), line(10, 70, w=150)]
    assert group_into_blocks(lines) == [[0, 1, 2]]


def test_a_wide_gap_separates_two_paragraphs():
    lines = [line(10, 10), line(10, 40), line(10, 120), line(10, 150)]
    assert group_into_blocks(lines) == [[0, 1], [2, 3]]


def test_a_heading_more_than_twice_as_tall_is_its_own_block():
    lines = [line(10, 10, h=50), line(10, 70), line(10, 100)]
    assert group_into_blocks(lines) == [[0], [1, 2]]


def test_lines_that_do_not_overlap_horizontally_are_separate_blocks():
    # A left column line, then a right column line a little lower.
    lines = [line(10, 10, w=200), line(400, 40, w=200)]
    assert group_into_blocks(lines) == [[0], [1]]


def test_a_slanted_paragraph_stays_one_block():
    # 10 degrees: the axis-aligned boxes of neighbouring lines overlap, the gaps along the
    # text's own axes are still 10 px.
    turn = np.deg2rad(10)
    rotation = np.float32([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    lines = [line(10, 10 + 30 * i, w=400) @ rotation.T for i in range(4)]
    lines.append(line(10, 300, w=400) @ rotation.T)
    assert group_into_blocks(lines) == [[0, 1, 2, 3], [4]]


def test_blocks_never_reorder_lines():
    # Lines 0 and 2 would make a paragraph, but line 1 sits between them in reading order.
    lines = [line(10, 10), line(10, 300), line(10, 40), line(10, 70)]
    blocks = group_into_blocks(lines)
    assert blocks == [[0], [1], [2, 3]]
    assert [i for block in blocks for i in block] == list(range(len(lines)))


def test_no_lines_no_blocks():
    assert group_into_blocks([]) == []


def test_enclosing_rectangle_is_clockwise_from_top_left():
    words = [box(60, 10), box(10, 10)]
    assert enclosing_rectangle(words).tolist() == [[10, 10], [100, 10], [100, 30], [10, 30]]


def test_enclosing_rectangle_follows_a_sloped_line():
    # Two words stepping down 40 px over 100 px: the rectangle turns with them, so it is
    # smaller than the upright box around them (100 x 60).
    quad = enclosing_rectangle([box(10, 10), box(70, 50)])
    top_edge = quad[1] - quad[0]
    assert top_edge[0] > 0 and top_edge[1] > 0  # top-left first, top edge runs right, down
    width = np.linalg.norm(quad[1] - quad[0])
    height = np.linalg.norm(quad[3] - quad[0])
    assert width * height < 100 * 60
