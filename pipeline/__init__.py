"""OCR for photos: detection through MMOCR, CLIP4STR recognition, lines and reading order.

>>> from pipeline import OCRPipeline
>>> OCRPipeline().ocr("photo.jpg").text

``OCRPipeline``, ``PipelineSpec`` and ``OCRResult`` are imported on first use, so that MMOCR
configs importing ``pipeline.openmmlab`` modules do not load the whole pipeline.
"""

__all__ = ["OCRPipeline", "OCRResult", "PipelineSpec"]


def __getattr__(name: str):
    if name == "OCRPipeline":
        from .core import OCRPipeline

        return OCRPipeline
    if name == "PipelineSpec":
        from .spec import PipelineSpec

        return PipelineSpec
    if name == "OCRResult":
        from .result import OCRResult

        return OCRResult
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
