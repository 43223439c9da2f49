from types import SimpleNamespace

from mathlit.modules.optim import total_steps


def test_the_schedule_spans_max_steps_or_else_the_epochs_of_the_data():
    data = SimpleNamespace(planned_steps_per_epoch=5)
    assert total_steps(SimpleNamespace(max_steps=100, max_epochs=3, datamodule=data)) == 100
    # trainer.max_steps=-1 (epochs fixed in a data-amount sweep): 3 epochs of 5 planned steps.
    assert total_steps(SimpleNamespace(max_steps=-1, max_epochs=3, datamodule=data)) == 15
