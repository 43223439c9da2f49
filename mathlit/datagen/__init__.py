"""Training data made by sampling: RFT rounds (sample, grade, filter, dedup, union across models).

Shared by the tasks and the sampling callback; the samplers themselves live in mathlit.sampling.
"""
