"""Training data made by sampling: RFT rounds (rft.py, filters.py: sample, grade, filter, dedup, union across
models), a verifier's labelled candidates (verifier.py), and synthetic questions (synth.py; questions.py parses
replies and decontaminates, labels.py labels by majority).

Shared by the tasks and the sampling callback; the samplers themselves live in mathlit.sampling.
"""
