# The default detector with an 8-bit integer copy of PP-OCR's detection model, shipped in
# pipeline/openmmlab/weights (made by pipeline/openmmlab/quantize_detector.py): the detection
# network runs 2-3x as fast on CPU, the pipeline 1.15-2x, at about the same scores on photos
# of scenes. The 8-bit model breaks some standing (vertical) text lines into pieces that the
# float model finds whole, so a photo in which it finds a standing region is detected again
# with the float model (about one photo in ten of ICDAR 2015's). See the README's "The
# detector in 8 bits".
#
#   ocr-pipeline run photo.jpg --detector default-int8
_base_ = "default.py"

model = dict(quantized=True, recheck_standing=True)
