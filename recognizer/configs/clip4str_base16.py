# CLIP4STR-B: CLIP ViT-B/16, 224x224 input. Released weights (e.g. clip4str_base_6e9fe947ac.pt)
# load as they are: MMOCRInferencer(rec=<this file>, rec_weights=<the .pt file>).
_base_ = ["./_base_clip4str.py"]

model = dict(architecture=dict(preset="VIT_B16"))
