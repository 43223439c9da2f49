"""Dynamic sampling and overlong filtering on hand-made groups."""

from mathlit.rl.groups import fill_batch, group_stats, has_signal, overlong_kept


def group(*rewards, reasons=None, tokens=5):
    reasons = reasons or ["stop"] * len(rewards)
    return [{"reward": r, "finish_reason": reasons[i], "num_tokens": tokens + i} for i, r in enumerate(rewards)]


def test_a_group_has_signal_when_its_rewards_differ():
    assert has_signal(group(1, 0, 0)) and has_signal(group(0.5, 0.5, 0.25))
    assert not has_signal(group(1, 1, 1)) and not has_signal(group(0, 0))


def test_overlong_samples_are_masked_out():
    assert overlong_kept(group(1, 0, 0, reasons=["stop", "length", "stop"])) == [True, False, True]


def test_dynamic_sampling_drops_groups_without_signal_and_draws_until_full():
    batches = iter([[group(1, 1), group(0, 1), group(0, 0)], [group(1, 0), group(1, 1), group(0, 1)]])
    filled = fill_batch(lambda n: next(batches), wanted=3, max_draws=5)
    assert [[r["reward"] for r in g] for g in filled.groups] == [[0, 1], [1, 0], [0, 1]]
    assert (filled.drawn, filled.draws) == (6, 2)


def test_dynamic_sampling_is_bounded_and_trims_to_the_batch():
    calls = []

    def draw(n):
        calls.append(n)
        return [group(1, 1)] * n

    filled = fill_batch(draw, wanted=2, max_draws=3)
    assert filled.groups == [] and calls == [2, 2, 2] and filled.drawn == 6
    many = fill_batch(lambda n: [group(0, 1)] * 4, wanted=2, max_draws=3)
    assert len(many.groups) == 2 and many.draws == 1


def test_group_stats_by_hand():
    stats = group_stats([group(1, 0, tokens=4), group(1, 1, reasons=["stop", "length"], tokens=10)])
    assert stats == {
        "questions_sampled": 2,
        "groups_with_signal": 0.5,
        "response_tokens_mean": (4 + 5 + 10 + 11) / 4,
        "response_tokens_max": 11,
        "share_cut_off": 0.25,
    }
