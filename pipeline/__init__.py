"""OCR pipeline for photos: detection, rectification, recognition and layout."""
