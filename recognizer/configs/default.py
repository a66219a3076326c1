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
    # The pre-trained encoder stays as it is; the layers above it and the decoders train.
    freeze_image_encoder=True,
)

# Input 48x192 (height x width): the Resize step of the base pipelines, at that size.
test_pipeline = _base_.test_pipeline
test_pipeline[1].scale = (192, 48)
train_pipeline = _base_.train_pipeline
train_pipeline[2].scale = (192, 48)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader

# As the default model was trained: one learning rate for the trained layers and decoders.
optim_wrapper = dict(
    optimizer=dict(lr=5e-4, weight_decay=0.05),
    paramwise_cfg=dict(decoder_lr_scale=1.0),
)
