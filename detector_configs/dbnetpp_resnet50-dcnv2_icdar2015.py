# DBNet++, ResNet-50 with DCNv2 deformable convolutions + FPNC with adaptive scale fusion,
# trained on ICDAR 2015 by MMOCR (hmean-iou 0.8684 in MMOCR's model zoo).
#
# DCNv2 is a compiled mmcv op: with mmcv-lite (no compiled ops) the model builds, but running
# it fails with pipeline.openmmlab.MissingCompiledOpError, whose message says to install full
# mmcv (pip uninstall mmcv-lite && pip install mmcv==2.0.1, built against your torch).
#
# MMOCRInferencer does not read load_from itself: pass det_weights, or use the pipeline's
# detector, which downloads load_from once (network needed) and caches it.
_base_ = "mmocr::textdet/dbnetpp/dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015.py"

# From mmocr's configs/textdet/dbnetpp/metafile.yml (dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015).
# (The inherited load_from is the SynthText pre-training checkpoint used to start training.)
load_from = "https://download.openmmlab.com/mmocr/textdet/dbnetpp/dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015/dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015_20220829_230108-f289bd20.pth"  # noqa: E501

# MMOCR's DB post-processing with curved text kept curved: straight regions are the same
# quadrilaterals as before, bent ones polygons that follow them (pipeline/curves.py).
custom_imports = dict(imports=["pipeline.openmmlab.band_postprocessor"], allow_failed_imports=False)
model = dict(det_head=dict(postprocessor=dict(type="DBBandPostprocessor")))
