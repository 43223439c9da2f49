"""Training data made by sampling: RFT rounds (rft.py, filters.py: sample, grade, filter, dedup, union across
models) and a verifier's labelled candidates (verifier.py).

Shared by the tasks and the sampling callback; the samplers themselves live in mathlit.sampling.
"""
