# The default detector with its lines cut at gaps in the ink (pipeline/word_splitting.py), as
# before lines were cut where a line reader puts spaces. For comparisons:
#
#   ocr-pipeline eval SCENES.jsonl --detector default-ink
_base_ = "default.py"

# The settings measured best for ink gaps on ../shared/data/icdar2015_dev_scenes.
model = dict(
    word_splitter=dict(
        _delete_=True,
        method="ink",
        profile="ink",
        min_gap=0.15,
        gap_level=0.15,
        relative_gap=2.0,
        band=0.6,
        text_rows=True,
        margin=0.1,
        min_word=0.3,
        min_strip_height=32,
    ),
)
