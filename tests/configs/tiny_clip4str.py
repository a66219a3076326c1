# The tiny random CLIP4STR of the shared reference fixture (clip4str_reference_tiny.pt): the
# B/16 config with a 64-wide, 2-layer CLIP, so tests can run released-layout weights quickly.
_base_ = ["../../recognizer/configs/clip4str_base16.py"]

model = dict(
    architecture=dict(
        embed_dim=64,
        vision_width=64,
        vision_layers=2,
        vision_heads=1,
        text_width=64,
        text_layers=2,
        text_heads=1,
    ),
)
