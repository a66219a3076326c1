# The default detector as it was before curved text: MMOCR's DB post-processing in its
# "quad" mode, every region a quadrilateral (curved words are boxed, then cut and read as
# if straight). For comparisons and for users who want quadrilaterals only:
#
#   ocr-pipeline eval SCENES.jsonl --detector detector_configs/default_quads.py
_base_ = "default.py"

# The thresholds stay default.py's; only the post-processor's type and mode change.
model = dict(postprocessor=dict(type="DBPostprocessor", text_repr_type="quad"))
