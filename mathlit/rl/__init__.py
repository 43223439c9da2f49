"""Online RL with verifiable rewards (task=grpo): the algorithm's parts as pure functions.

advantages.py (group mean and std, mean only, leave-one-out), loss.py (clipped policy loss, its three
aggregations, the k3 KL, truncated importance sampling), groups.py (dynamic sampling, overlong filtering),
rewards.py (the grader's verdict plus optional weighted terms), settings.py (rl.algorithm -> its parts).
Each is checked against a hand computation in tests/rl/.
"""
