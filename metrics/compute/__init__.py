"""Pure computation layer of Healthboard: NumPy / SciPy / pandas in, frozen results out.

No Django here: every module imports without settings, so workers, commands, benchmarks and
tests share the same code. Definitions are DESIGN.md §3 (see each module's docstring):

- :mod:`.drift` — PSI, JS, normed Wasserstein, KS, chi-square p, prediction drift, BH q-values
- :mod:`.service` — latency percentiles, error rate, throughput, availability, null rate, freshness
- :mod:`.quality` — accuracy, precision, recall, F1, ROC AUC, MAE, RMSE, delta vs baseline, ECE
- :mod:`.fairness` — demographic parity, disparate impact, equal opportunity, equalized odds, accuracy gap
- :mod:`.sketch` — the mergeable latency sketch (DDSketch mapping, 1% relative accuracy)
- :mod:`.profiles` — mergeable window profiles (the roll-up) and their versioned JSON format
- :mod:`.registry` — metric key → calculator, and :func:`classify` (the status rule)
"""

from .results import MetricResult, classify

__all__ = ["MetricResult", "classify"]
