"""Estimated accuracy without labels (CBPE's idea): calibration checked at bundle time.

A classifier's top probability, once calibrated, is the chance its prediction is right; the
mean of calibrated top probabilities over a window is the accuracy to expect there, with no
label. At bundle time the model's reliability is measured on the holdout (the reliability
diagram: top probability against the share correct, per bin), a monotone map from top
probability to the share correct is fitted there (isotonic regression), and the map's own
error is measured by cross-fitting on the holdout (expected calibration error, ECE, of the
mapped probability on rows the map did not see). A model whose mapped ECE is above
``ECE_MAX``, or whose holdout is smaller than ``MIN_HOLDOUT_ROWS``, gets no estimate: the
bundle says why and the server exports none.

What it cannot see: a change of the rule that links inputs to the truth (concept drift)
leaves the inputs, so the probabilities and the estimate, as they were. Only labels show it.
"""

from typing import Final

# The documented threshold: a model whose calibrated top probability is off by more than
# this on its holdout (expected calibration error, cross-fitted) gets no estimate.
ECE_MAX: Final = 0.05
# A smaller holdout cannot fit the map and measure it: no estimate.
MIN_HOLDOUT_ROWS: Final = 200
RELIABILITY_BINS: Final = 10
CROSS_FIT_FOLDS: Final = 5
