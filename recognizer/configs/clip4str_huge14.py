# CLIP4STR-H: CLIP ViT-H/14, 224x224 input. Released weights (e.g. clip4str_huge_5eef9f86e2.pt)
# load as they are: MMOCRInferencer(rec=<this file>, rec_weights=<the .pt file>).
_base_ = ["./_base_clip4str.py"]

model = dict(architecture=dict(preset="VIT_H14"))
