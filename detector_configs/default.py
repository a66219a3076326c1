# The offline default text detector: PP-OCR's DB model (ONNX, shipped in the `rapidocr`
# wheel, so nothing is downloaded) run inside MMOCR, with MMOCR's DB post-processing and the
# lines it finds cut into words where PP-OCRv6 small's line reading (from the same wheel)
# puts spaces. Needs `pip install rapidocr onnxruntime`.
#
#   MMOCRInferencer(det="detector_configs/default.py")
#
# Settings measured on ../shared/data/icdar2015_dev_scenes with eval_detection.py (see
# pipeline/ctc_splitting.py for how lines are cut; default_ink.py cuts at gaps in the ink).
_base_ = [
    "mmocr::textdet/_base_/default_runtime.py",
    "mmocr::textdet/_base_/datasets/icdar2015.py",
]

custom_imports = dict(
    imports=["pipeline.openmmlab.ppocr_detector", "pipeline.openmmlab.band_postprocessor"],
    allow_failed_imports=False,
)

model = dict(
    type="PPOCRDBDetector",
    model_file=None,  # None: the detection model inside the installed rapidocr package
    # True: its 8-bit copy shipped in pipeline/openmmlab/weights (default_int8.py).
    quantized=False,
    # With quantized: detect again with the float model a photo in which the 8-bit model
    # found a standing region (it breaks some standing lines into pieces).
    recheck_standing=False,
    num_threads=0,  # onnxruntime's choice (all cores)
    # PP-OCR's input: BGR (as OpenCV loads it), pixel / 255 normalized with mean 0.5, std 0.5.
    data_preprocessor=dict(
        type="TextDetDataPreprocessor",
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=False,
        pad_size_divisor=32,
    ),
    # MMOCR's DB post-processing; straight regions come out as its quadrilaterals, curved
    # ones as polygons that follow them (pipeline/curves.py).
    postprocessor=dict(
        type="DBBandPostprocessor",
        mask_thr=0.3,
        min_text_score=0.7,
        unclip_ratio=1.6,
        # MMOCR's default (0.01 of the contour length) simplifies a long thin text line to
        # fewer than 4 points, and the line is dropped: a paragraph's lines all vanished.
        epsilon_ratio=0.002,
    ),
    # Cut at the spaces of a CTC reading of each line (pipeline/ctc_splitting.py), also
    # where a frame read blank is at least 15% a space (chosen on the dev photos).
    word_splitter=dict(method="ctc", trim=0.6, space_above=0.15),
)

test_pipeline = [
    dict(type="LoadImageFromFile", color_type="color_ignore_orientation"),
    # PP-OCR's own resize: long side at most 2000, short side at least 736, sides rounded
    # to multiples of 32.
    dict(type="PPOCRDetResize", min_side=736, max_side=2000),
    dict(
        type="LoadOCRAnnotations",
        with_polygon=True,
        with_bbox=True,
        with_label=True,
    ),
    dict(
        type="PackTextDetInputs", meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor")
    ),
]

icdar2015_textdet_test = _base_.icdar2015_textdet_test
icdar2015_textdet_test.pipeline = test_pipeline
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=icdar2015_textdet_test,
)
val_dataloader = test_dataloader
test_cfg = dict(type="TestLoop")
val_cfg = dict(type="ValLoop")
