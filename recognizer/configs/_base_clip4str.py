# Shared parts of the CLIP4STR configs (MMOCR 1.x / mmengine): model defaults, data pipelines
# for 224x224 ViT inputs, training schedule and runtime. Not buildable alone: each config
# picks an architecture. Use any of them as a `_base_` of your own config.
default_scope = "mmocr"
custom_imports = dict(imports=["pipeline.openmmlab.recognizer"], allow_failed_imports=False)
# Crops per forward pass when MMOCR's inferencers are called without a batch size (theirs is
# 1: one crop per pass, 4x slower for CLIP4STR-B). Read by pipeline/openmmlab/compat.py.
inference_batch_size = 32

model = dict(
    type="CLIP4STRRecognizer",
    # The 94 printable ASCII characters of the released models, in their order.
    charset=(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    ),
    max_label_length=25,
    decoder_depth=1,
    decoder_heads=8,
    decoder_mlp_ratio=4.0,
    dropout=0.1,
    refine_iters=1,
    decode="ar",
    # A known name (see recognizer.KNOWN_NAMES) or a path, loaded when the model is built.
    checkpoint=None,
    freeze_text_layers=6,
    loss=dict(num_orders=6, cross_weight=1.0),
    # Batching and BGR->RGB as MMOCR's TextRecogDataPreprocessor; normalized exactly as
    # CLIP4STR.read does, with the model's image_mean/image_std (0.5 / 0.5 on [0, 1] RGB).
    data_preprocessor=dict(type="CLIP4STRDataPreprocessor"),
    postprocessor=dict(type="CLIP4STRPostprocessor"),
)

# Exactly CLIP4STR.read(): PIL decoding (EXIF-rotated, RGB) and a PIL bicubic resize to the
# model's input size (width, height) without keeping the aspect ratio. A config for another
# input size changes `scale` of the Resize step of both pipelines (see default.py).
resize = dict(
    type="Resize", scale=(224, 224), keep_ratio=False, backend="pillow", interpolation="bicubic"
)
pack_inputs = dict(
    type="PackTextRecogInputs", meta_keys=("img_path", "ori_shape", "img_shape", "valid_ratio")
)
test_pipeline = [
    dict(type="LoadImageFromFile", imdecode_backend="pillow"),
    resize,
    dict(type="LoadOCRAnnotations", with_text=True),
    pack_inputs,
]
train_pipeline = [
    dict(type="LoadImageFromFile", imdecode_backend="pillow", ignore_empty=True, min_size=2),
    dict(type="LoadOCRAnnotations", with_text=True),
    resize,
    pack_inputs,
]

# MMOCR recognition annotations: {"metainfo": ..., "data_list": [{"img_path", "instances":
# [{"text"}]}]}, image paths relative to data_root.
data_root = "data/textrecog"
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    # Iteration-based training: an endless sampler (mmengine pauses 2 s at every restart of a
    # finite one).
    sampler=dict(type="InfiniteSampler", shuffle=True),
    dataset=dict(
        type="OCRDataset",
        data_root=data_root,
        ann_file="textrecog_train.json",
        pipeline=train_pipeline,
    ),
)
test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type="OCRDataset",
        data_root=data_root,
        ann_file="textrecog_test.json",
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
val_dataloader = test_dataloader
test_evaluator = dict(type="WordMetric", mode=["exact", "ignore_case", "ignore_case_symbol"])
val_evaluator = test_evaluator

# Fine-tuning recipe of the paper: AdamW (0.9, 0.98), eps 1e-6, weight decay 0.2 (none for
# norms, biases, embeddings), decoders at 19x the encoder LR, gradient clipping at 20,
# 7.5% warm-up then cosine decay. The LR is the paper's for a batch of 384; scale it.
max_iters = 100000
warmup_iters = 7500
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=8.4e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2),
    clip_grad=dict(max_norm=20),
    constructor="CLIP4STROptimWrapperConstructor",
    paramwise_cfg=dict(decoder_lr_scale=19.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=5000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", interval=5000, by_epoch=False, max_keep_ckpts=3),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    sync_buffer=dict(type="SyncBuffersHook"),
    visualization=dict(
        type="VisualizationHook",
        interval=1,
        enable=False,
        show=False,
        draw_gt=False,
        draw_pred=False,
    ),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),
)
randomness = dict(seed=None)
log_processor = dict(type="LogProcessor", window_size=10, by_epoch=False)
log_level = "INFO"
load_from = None
resume = False
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="TextRecogLocalVisualizer", name="visualizer", vis_backends=vis_backends)
