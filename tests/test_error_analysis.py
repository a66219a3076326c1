"""Error analysis (pipeline.error_analysis): one category per ground-truth word, on polygons
with known answers, and the ``eval --explain`` command's table and example pictures."""

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import DATA
from PIL import Image

from pipeline.cli import build_parser, run_eval
from pipeline.error_analysis import (
    CATEGORIES,
    CUT_OFF,
    MERGED,
    MISSED,
    READ_RIGHT,
    SPLIT,
    TOO_LARGE,
    WRONG_TEXT,
    ErrorAnalysis,
    categorize_words,
    length_covered,
)
from pipeline.evaluation import end_to_end_match, read_scenes

SCENES = DATA / "icdar2015_dev_scenes" / "scenes.jsonl"


def rect(x0, y0, x1, y1):
    """A quad in ICDAR order: top-left, top-right, bottom-right, bottom-left."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def categories(predictions, truth, ignore=None):
    """Category of each cared ground-truth word; ``predictions`` and ``truth`` hold
    (polygon, text) pairs."""
    result = categorize_words(
        [p for p, _ in predictions],
        [t for _, t in predictions],
        [p for p, _ in truth],
        [t for _, t in truth],
        ignore,
    )
    return [v.category for v in result.verdicts]


CLASS = (rect(0, 0, 100, 20), "CLASS")


def test_a_box_on_the_word_with_the_same_alphanumerics_is_read_right():
    assert categories([(rect(2, 1, 99, 20), "class!")], [CLASS]) == [READ_RIGHT]


def test_a_box_on_the_whole_word_read_differently_is_wrong_text():
    assert categories([(rect(0, 0, 100, 20), "CLAZZ")], [CLASS]) == [WRONG_TEXT]


def test_a_paired_box_short_of_the_word_end_is_cut_off():
    # IoU 0.8 pairs it, but it covers only 80% of the word's length.
    assert categories([(rect(20, 0, 100, 20), "LQSS")], [CLASS]) == [CUT_OFF]


def test_a_paired_box_read_as_a_strict_part_of_the_truth_is_cut_off():
    assert categories([(rect(0, 0, 100, 20), "ASS")], [CLASS]) == [CUT_OFF]


def test_a_lower_box_is_not_cut_off_when_it_spans_the_word_length():
    # Covers 70% of the word's area but all of its length: the text is the problem.
    assert categories([(rect(0, 6, 100, 20), "CLAZZ")], [CLASS]) == [WRONG_TEXT]


def test_an_unpaired_box_covering_a_small_part_of_the_word_is_cut_off():
    assert categories([(rect(0, 0, 40, 20), "CL")], [CLASS]) == [CUT_OFF]


def test_one_box_over_two_words_merges_both():
    # The box pairs with THANK (IoU 0.59) and covers YOU, which is left unpaired.
    truth = [(rect(0, 0, 100, 20), "THANK"), (rect(110, 0, 170, 20), "YOU")]
    result = categorize_words([rect(0, 0, 170, 20)], ["THANKYOU"], *zip(*truth))
    assert [v.category for v in result.verdicts] == [MERGED, MERGED]
    assert [v.predictions for v in result.verdicts] == [(0,), (0,)]
    assert result.false_positives == []


def test_a_box_running_past_the_word_over_unannotated_text_is_merged():
    # IoU 0.48: unpaired, but it holds all of the word.
    assert categories([(rect(-110, 0, 100, 20), "GCLASS")], [CLASS]) == [MERGED]


def test_a_box_with_room_around_the_word_alone_is_too_large():
    # IoU 0.42: the box holds all of the word and nothing else that anyone annotated or
    # that was read, whether it reads the word right or not.
    loose = rect(-30, -20, 130, 40)
    assert categories([(loose, "CLASS")], [CLASS]) == [TOO_LARGE]
    assert categories([(loose, "CLAS5")], [CLASS]) == [TOO_LARGE]
    # Reading more than the word, it took in a neighbour nobody annotated.
    assert categories([(loose, "ACLASS")], [CLASS]) == [MERGED]
    # Holding another annotated word, it is merged whatever it reads.
    truth = [CLASS, (rect(105, 0, 125, 20), "A")]
    assert categories([(loose, "CLASS")], truth) == [MERGED, MERGED]


def test_boxes_lying_on_parts_of_the_word_split_it():
    truth = [(rect(0, 0, 140, 20), "CAUTION")]
    pieces = [(rect(0, 0, 60, 20), "CAU"), (rect(75, 0, 140, 20), "ION")]
    assert categories(pieces, truth) == [SPLIT]


def test_pieces_covering_less_than_half_of_the_word_are_a_cut_off_box():
    truth = [(rect(0, 0, 140, 20), "CAUTION")]
    pieces = [(rect(0, 0, 30, 20), "CA"), (rect(100, 0, 130, 20), "IO")]
    assert categories(pieces, truth) == [CUT_OFF]


def test_no_box_a_sliver_or_a_box_elsewhere_is_missed():
    assert categories([], [CLASS]) == [MISSED]
    assert categories([(rect(0, 0, 10, 20), "C")], [CLASS]) == [MISSED]
    result = categorize_words([rect(300, 0, 400, 20)], ["ELSE"], [CLASS[0]], [CLASS[1]])
    assert [v.category for v in result.verdicts] == [MISSED]
    assert result.false_positives == [0]


def test_read_right_takes_the_box_with_the_right_text_even_at_a_lower_iou():
    # As end_to_end_match pairs: the exact box read wrong is left over (a false positive).
    predictions = [(rect(0, 0, 100, 20), "CLAZZ"), (rect(0, 0, 90, 20), "CLASS")]
    result = categorize_words(*zip(*predictions), [CLASS[0]], [CLASS[1]])
    assert [(v.category, v.predictions) for v in result.verdicts] == [(READ_RIGHT, (1,))]
    assert result.false_positives == [0]


def test_a_paired_box_comes_before_a_larger_box_covering_the_word():
    predictions = [(rect(-100, -10, 200, 30), "BIG"), (rect(0, 0, 100, 20), "CLAZZ")]
    result = categorize_words(*zip(*predictions), [CLASS[0]], [CLASS[1]])
    assert [(v.category, v.predictions) for v in result.verdicts] == [(WRONG_TEXT, (1,))]
    assert result.false_positives == [0]


def test_merged_comes_before_split():
    truth = [(rect(0, 0, 140, 20), "CAUTION")]
    boxes = [
        (rect(0, 0, 60, 20), "CAU"),
        (rect(75, 0, 140, 20), "ION"),
        (rect(-100, -20, 240, 40), "PLEASECAUTION"),
    ]
    assert categories(boxes, truth) == [MERGED]


def test_dont_care_words_get_no_verdict_and_boxes_inside_them_are_not_scored():
    truth = [(rect(200, 0, 260, 20), "###"), (rect(300, 0, 320, 20), "--"), CLASS]
    predictions = [rect(200, 0, 255, 20), rect(300, 0, 320, 20), rect(0, 0, 100, 20)]
    result = categorize_words(
        predictions, ["abc", "x", "class"], *zip(*truth), ignore=[True, False, False]
    )
    assert [(v.word, v.category) for v in result.verdicts] == [(2, READ_RIGHT)]
    assert result.num_predictions == 1  # both others lie inside a don't-care region
    assert result.false_positives == []


def test_a_box_also_holding_a_dont_care_neighbor_is_merged():
    truth = [(rect(0, 0, 100, 20), "CLASS"), (rect(105, 0, 115, 20), "###")]
    merged = categorize_words([rect(0, 0, 115, 20)], ["CLASSX"], *zip(*truth), [False, True])
    assert [v.category for v in merged.verdicts] == [MERGED]


def test_length_is_measured_along_a_tilted_word():
    # A word tilted by 30 degrees, 100 long and 20 high; the box holds its first 60%.
    angle = np.radians(30)
    along = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-np.sin(angle), np.cos(angle)])

    def quad(start, end):
        return np.array(
            [start * along, end * along, end * along + 20 * across, start * along + 20 * across]
        )

    word = quad(0, 100)
    assert length_covered(word, quad(-10, 60)) == pytest.approx(0.6)
    assert length_covered(word, quad(20, 100)) == pytest.approx(0.8)


def random_scene(rng):
    """Words on a grid and predictions made from them: exact, shifted, shortened, merged
    with the next word, split, missing, or anywhere; texts right or wrong."""
    words, texts, ignore = [], [], []
    for row in range(3):
        for col in range(4):
            x, y = col * 120 + rng.uniform(0, 10), row * 40 + rng.uniform(0, 10)
            words.append(rect(x, y, x + rng.uniform(40, 100), y + rng.uniform(15, 25)))
            texts.append(str(rng.choice(["SALE", "the", "###", "-", "Hotel", "A1"])))
            ignore.append(texts[-1] == "###")
    predictions, read = [], []
    for i, (x0, y0, x1, y1) in enumerate(np.reshape(words, (-1, 8))[:, [0, 1, 4, 5]]):
        kind = rng.integers(7)
        width = x1 - x0
        if kind == 0:
            boxes = [rect(x0, y0, x1, y1)]
        elif kind == 1:
            shift = rng.uniform(-0.6, 0.6) * width
            boxes = [rect(x0 + shift, y0, x1 + shift, y1)]
        elif kind == 2:
            boxes = [rect(x0 + rng.uniform(0.1, 0.7) * width, y0, x1, y1)]
        elif kind == 3 and i + 1 < len(words):
            boxes = [rect(x0, y0, max(x1, words[i + 1][2]), max(y1, words[i + 1][5]))]
        elif kind == 4:
            middle = x0 + width / 2
            boxes = [rect(x0, y0, middle - 4, y1), rect(middle + 4, y0, x1, y1)]
        elif kind == 5:
            boxes = []
        else:
            x, y = rng.uniform(0, 500, 2)
            boxes = [rect(x, y, x + 50, y + 20)]
        for box in boxes:
            predictions.append(box)
            read.append(texts[i] if rng.random() < 0.5 else str(rng.choice(["SAL", "Hotel", "x"])))
    return predictions, read, words, texts, ignore


def test_categories_partition_the_cared_words_and_read_right_is_the_end_to_end_count():
    rng = np.random.default_rng(7)
    seen = Counter()
    for _ in range(150):
        predictions, read, words, texts, ignore = random_scene(rng)
        result = categorize_words(predictions, read, words, texts, ignore)
        cared = [i for i, t in enumerate(texts) if not ignore[i] and any(c.isalnum() for c in t)]
        assert [v.word for v in result.verdicts] == cared
        counts = Counter(v.category for v in result.verdicts)
        assert sum(counts.values()) == len(cared)
        score = end_to_end_match(predictions, read, words, texts, ignore)
        assert counts[READ_RIGHT] == score.true_positives
        assert result.num_predictions == score.num_detections
        used = {d for v in result.verdicts for d in v.predictions}
        assert not used & set(result.false_positives)
        assert len(used | set(result.false_positives)) == result.num_predictions
        seen.update(counts)
    assert set(seen) == set(CATEGORIES)


def fake_pipeline(scenes):
    """Reads every third cared word right, every third wrong, and misses the rest."""
    by_file = {scene["file"]: scene for scene in scenes}

    def ocr_many(paths, images_per_batch=4, overlap=True):
        for path in paths:
            words = []
            cared = [i for i in by_file[path]["instances"] if not i["ignore"]]
            for number, instance in enumerate(cared):
                if number % 3 < 2:
                    text = instance["text"] if number % 3 == 0 else "zzz"
                    polygon = np.reshape(instance["polygon"], (-1, 2))
                    words.append(SimpleNamespace(polygon=polygon, text=text))
            yield path, SimpleNamespace(words=words)

    return SimpleNamespace(ocr_many=ocr_many)


def table_count(out: str, row: str) -> int:
    """The word count in a row of the printed table."""
    (line,) = [line for line in out.splitlines() if line.startswith(f"{row}  ")]
    return int(line[len(row) :].split()[0])


def test_eval_explain_prints_the_table_and_writes_example_pictures(tmp_path, capsys):
    examples = tmp_path / "examples"
    args = build_parser().parse_args(
        ["eval", str(SCENES), "--limit", "2", "--examples", str(examples), "--per-category", "2"]
    )
    assert run_eval(args, fake_pipeline(read_scenes(SCENES, limit=2))) == 0
    out = capsys.readouterr().out
    assert out.index("end-to-end: precision") < out.index("read right")  # scores first
    cared = sum(
        not i["ignore"] and any(c.isalnum() for c in i["text"])
        for scene in read_scenes(SCENES, limit=2)
        for i in scene["instances"]
    )
    counts = {category: table_count(out, category) for category in CATEGORIES}
    assert sum(counts.values()) == table_count(out, "all cared words") == cared
    assert counts[READ_RIGHT] > 0 and counts[WRONG_TEXT] > 0 and counts[MISSED] > 0

    rows = (examples / "index.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t") == ["category", "photo", "truth", "predicted", "picture"]
    written = [row.split("\t") for row in rows[1:]]
    assert Counter(row[0] for row in written) == {
        category: min(2, count) for category, count in counts.items() if count
    }
    for category, photo, truth, predicted, picture in written:
        assert photo == "img_2.jpg"
        assert predicted == {READ_RIGHT: truth, WRONG_TEXT: "zzz", MISSED: ""}[category]
        with Image.open(examples / picture) as image:
            assert image.width >= 480 and image.height > 60
    assert f"{len(written)} example pictures and index.tsv in {examples}" in out


def test_explain_counts_the_missed_words_the_confidence_cut_off_left_out(capsys):
    """A pipeline with a cut-off: every third word is read right but unsure (0.1)."""
    scenes = read_scenes(SCENES, limit=2)
    by_file = {scene["file"]: scene for scene in scenes}
    runs = []

    def ocr_many(paths, images_per_batch=4, overlap=True):
        runs.append(pipeline.min_confidence)
        for path in paths:
            words = []
            cared = [i for i in by_file[path]["instances"] if not i["ignore"]]
            for number, instance in enumerate(cared):
                text = "zzz" if number % 3 == 1 else instance["text"]
                confidence = 0.1 if number % 3 == 2 else 0.9
                if confidence >= pipeline.min_confidence:
                    polygon = np.reshape(instance["polygon"], (-1, 2))
                    words.append(SimpleNamespace(polygon=polygon, text=text))
            yield path, SimpleNamespace(words=words)

    pipeline = SimpleNamespace(ocr_many=ocr_many, min_confidence=0.4)
    args = build_parser().parse_args(["eval", str(SCENES), "--limit", "2", "--explain"])
    assert run_eval(args, pipeline) == 0
    out = capsys.readouterr().out

    assert runs == [0.0, 0.4] and pipeline.min_confidence == 0.4  # put back after
    unsure = sum(
        number % 3 == 2 and any(c.isalnum() for c in instance["text"])
        for scene in scenes
        for number, instance in enumerate(i for i in scene["instances"] if not i["ignore"])
    )
    # The words the cut-off left out are all missed, all boxed, all read right; the
    # scores are those of the run with the cut-off.
    assert table_count(out, MISSED) == unsure > 0
    assert (
        f"left out under the confidence cut-off: {unsure} of {unsure} "
        f"({unsure} of them read right)" in out
    )


def test_eval_names_a_missing_scenes_file_and_refuses_a_limit_of_zero(tmp_path, capsys):
    from pipeline.cli import main

    assert main(["eval", str(tmp_path / "nowhere.jsonl"), "--explain"]) == 2
    assert "nowhere.jsonl: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", str(SCENES), "--limit", "0"])
    assert "--limit" in capsys.readouterr().err


def test_examples_flag_without_a_folder_writes_to_explain_examples():
    args = build_parser().parse_args(["eval", "scenes.jsonl", "--examples"])
    assert str(args.examples) == "explain-examples" and args.per_category == 5


def test_eval_without_explain_prints_only_the_scores(capsys):
    args = build_parser().parse_args(["eval", str(SCENES), "--limit", "2"])
    assert args.examples is None and not args.explain
    assert run_eval(args, fake_pipeline(read_scenes(SCENES, limit=2))) == 0
    out = capsys.readouterr().out
    assert "end-to-end: precision" in out and "read right" not in out


def test_an_examples_folder_that_cannot_be_written_stops_before_any_photo(tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")
    args = build_parser().parse_args(["eval", str(SCENES), "--examples", str(blocked)])
    no_photos = SimpleNamespace(ocr_many=lambda *a, **k: pytest.fail("photos were read"))
    assert run_eval(args, no_photos) == 2
    assert "cannot write examples" in capsys.readouterr().err


def test_analysis_of_real_ground_truth_with_itself_reads_every_word_right(tmp_path):
    analysis = ErrorAnalysis(examples_per_category=1)
    for scene in read_scenes(SCENES, limit=5):
        instances = scene["instances"]
        analysis.add_scene(scene, [i["polygon"] for i in instances], [i["text"] for i in instances])
    assert analysis.num_words == analysis.counts[READ_RIGHT] > 0
    assert analysis.false_positives == 0
    assert analysis.write_examples(tmp_path) == 1
    assert (tmp_path / "index.tsv").read_text(encoding="utf-8").startswith("category\t")
