"""Measure matching: a corpus of distinct pictures, the edits re-uploaders make, and the
bookkeeping of recall and false matches. Used by ``bench/robustness.py`` and the tests;
needs the ``eval`` extra (scikit-image, for its freely licensed photos)."""
