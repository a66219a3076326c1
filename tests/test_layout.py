"""Words are grouped into lines and lines put into reading order."""

import numpy as np

from pipeline.layout import group_into_lines


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


def test_words_far_apart_on_one_row_are_separate_lines():
    polygons = [box(10, 10), box(600, 10)]
    assert group_into_lines(polygons) == [[0], [1]]


def test_no_words_no_lines():
    assert group_into_lines([]) == []
