# The embedded default recognizer: CLIP4STR's text tower, decoders and predict-and-refine
# decoding on PP-OCRv6 small's pre-trained text-line encoder (TEXTLINE_SMALL), 48x192 input.
# Its weights (recognizer/weights/default/) load when the model is built; while they are not
# installed the model starts from random weights, with a warning.
_base_ = ["./_base_clip4str.py"]

model = dict(
    architecture=dict(preset="TEXTLINE_SMALL", image_size=(48, 192)),
    decoder_heads=6,
    checkpoint="default",
    freeze_text_layers=0,
    # The default weights were fine-tuned with the pre-trained encoder training too.
    freeze_image_encoder=False,
    # Crops keep their aspect ratio (see the pipelines below).
    resize="keep_aspect",
)

# Input 48x192 (height x width), each crop fitted as the default model reads it: scaled to
# the input height keeping its aspect ratio, the width left over filled with the mean
# (CLIP4STRResize, exactly CLIP4STR.read with the model's resize="keep_aspect").
fit = dict(type="CLIP4STRResize", scale=(192, 48), resize="keep_aspect")
test_pipeline = _base_.test_pipeline
test_pipeline[1] = fit
train_pipeline = _base_.train_pipeline
train_pipeline[2] = fit
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader

# As the default model was fine-tuned: the encoder at 5e-5, the decoders 6 times that.
optim_wrapper = dict(
    optimizer=dict(lr=5e-5, weight_decay=0.05),
    paramwise_cfg=dict(decoder_lr_scale=6.0),
)
