"""``python -m recognizer.training``: train a recognizer (see ``recognizer.training.trainer``)."""

from .trainer import main

main()
