# The earlier default recognizer, "small-scratch": SMALL_CONV (convolutional stem, 6x192 ViT),
# 32x128 input, its image tower trained from scratch. Its weights
# (recognizer/weights/small_scratch/) load when the model is built.
_base_ = ["./_base_clip4str.py"]

model = dict(
    architecture=dict(preset="SMALL_CONV"),
    decoder_heads=6,
    checkpoint="small-scratch",
    freeze_text_layers=0,
)

# Input 32x128 (height x width): the Resize step of the base pipelines, at that size.
test_pipeline = _base_.test_pipeline
test_pipeline[1].scale = (128, 32)
train_pipeline = _base_.train_pipeline
train_pipeline[2].scale = (128, 32)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader

# Trained from scratch: a higher LR, the same for encoder and decoders.
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(decoder_lr_scale=1.0),
)
