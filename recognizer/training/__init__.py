"""Training a CLIP4STR recognizer: the objective, the trainer, the word renderer, export.

Nothing in inference (``recognizer.load``, ``read``, the ONNX and MMOCR paths, the pipeline)
imports this package; training code imports the model, never the other way round.

    python -m recognizer.training --out runs/default --real ../shared/data/real_train
    python -m recognizer.training.export runs/default DIR
"""
