"""Numbers the longer report sections compute from a loaded run: no markdown, no figures.

One module per section that needs it (``failures``, ``supply``, ``services``); the section
turns the numbers into text and the figures modules into PNGs.
"""
