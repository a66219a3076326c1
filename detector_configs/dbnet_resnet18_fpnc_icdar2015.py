# DBNet, ResNet-18 + FPNC, trained on ICDAR 2015 by MMOCR (hmean-iou 0.8169 in MMOCR's model
# zoo). Needs no compiled mmcv op, so it runs on mmcv-lite.
#
#   MMOCRInferencer(det="detector_configs/dbnet_resnet18_fpnc_icdar2015.py",
#                   det_weights=<local copy of load_from>)
#
# MMOCRInferencer does not read load_from itself: pass det_weights, or use the pipeline's
# detector, which downloads load_from once (network needed) and caches it.
_base_ = "mmocr::textdet/dbnet/dbnet_resnet18_fpnc_1200e_icdar2015.py"

# From mmocr's configs/textdet/dbnet/metafile.yml (model dbnet_resnet18_fpnc_1200e_icdar2015).
load_from = "https://download.openmmlab.com/mmocr/textdet/dbnet/dbnet_resnet18_fpnc_1200e_icdar2015/dbnet_resnet18_fpnc_1200e_icdar2015_20220825_221614-7c0e94f2.pth"  # noqa: E501

# MMOCR's DB post-processing with curved text kept curved: straight regions are the same
# quadrilaterals as before, bent ones polygons that follow them (pipeline/curves.py).
custom_imports = dict(imports=["pipeline.openmmlab.band_postprocessor"], allow_failed_imports=False)
model = dict(det_head=dict(postprocessor=dict(type="DBBandPostprocessor")))
