"""Trust score and readiness (DESIGN.md §5).

The pure core — :mod:`score`, :mod:`readiness`, :mod:`anomaly`, :mod:`attribution` — imports no
Django and is tested alone (``tests/trust/``). The Django side is :mod:`metrics.trust.policy`
(where thresholds and weight profiles come from) and :mod:`metrics.trust.service`
(``compute_trust``: load a window's metric values, score them, store a ``TrustScore``).
"""
