# CLIP4STR-L: CLIP ViT-L/14, 224x224 input. Released weights (e.g. clip4str_large_3c9d881b88.pt)
# load as they are: MMOCRInferencer(rec=<this file>, rec_weights=<the .pt file>).
_base_ = ["./_base_clip4str.py"]

model = dict(architecture=dict(preset="VIT_L14"))
