# The default detector with an 8-bit integer copy of PP-OCR's detection model, shipped in
# pipeline/openmmlab/weights (made by pipeline/openmmlab/quantize_detector.py): the network
# runs 2-3x as fast on CPU and the pipeline about twice as fast, at about the same scores on
# photos of scenes, but it breaks standing (vertical) text lines into pieces more often than
# the float model. See the README's "The detector in 8 bits".
#
#   ocr-pipeline run photo.jpg --detector default-int8
_base_ = "default.py"

model = dict(quantized=True)
