"""The fast paths of issue 16 compute what the plain ones did: initialisation on one thread,
the reused best-weights buffers of the trainer, the per-step views of the fused recurrence."""
import math

import pytest
import torch
from torch import nn

from conftest import FAST
from lstmae import LSTMAutoencoder, threads
from lstmae.cells import LoopLSTM
from lstmae.training import Trainer, TrainSettings


@pytest.fixture
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_build_threads_is_one_unless_the_policy_is_off(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.build_threads() == 1 and threads.build_threads(4) == 1
    monkeypatch.setenv(threads.ENV, "torch")
    assert threads.build_threads() is None
    assert threads.build_threads(2) == 1  # an explicit n_threads turns the policy on


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_initial_weights_do_not_depend_on_the_callers_thread_count(sines, activation, monkeypatch,
                                                                   keep_torch_threads):
    """Orthogonal initialisation (a QR) runs on one thread, so the caller's torch setting changes nothing."""
    monkeypatch.delenv(threads.ENV, raising=False)
    fitted = []
    for caller_threads in (1, 2):
        torch.set_num_threads(caller_threads)
        ae = LSTMAutoencoder(**{**FAST, "epochs": 1, "hidden_size": 64}, activation=activation, n_threads=1).fit(sines)
        assert torch.get_num_threads() == caller_threads
        fitted.append(ae.module_.state_dict())
    for name, x in fitted[0].items():
        assert torch.equal(x, fitted[1][name]), name


class _Bouncy(nn.Module):
    """A linear model with a learning rate large enough for the loss to go up and down."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, batch):
        out = self.lin(batch["x"])
        return out, ((out - batch["x"]) ** 2).mean()


def test_best_weights_buffers_hold_each_best_epoch_and_are_restored():
    torch.manual_seed(0)
    model = _Bouncy()
    seen = []

    class Spy:
        def on_epoch_end(self, state):
            now = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
            if state.improved:  # the snapshot is the model as it is now
                for k, v in state.best_state.items():
                    assert torch.equal(v, now[k]), k
                seen.append(now)
            elif seen:  # not improved: the snapshot still holds the last best epoch, not the current weights
                for k, v in state.best_state.items():
                    assert torch.equal(v, seen[-1][k]), k

    data = {"x": torch.randn(64, 3)}
    settings = TrainSettings(epochs=30, batch_size=64, learning_rate=0.9, patience=30, clip_grad_norm=None)
    trainer = Trainer(model, settings, torch.Generator().manual_seed(0), torch.device("cpu"), callbacks=[Spy()])
    history = trainer.fit(data)
    losses = history["train_loss"]
    assert any(b > a for a, b in zip(losses, losses[1:]))  # the loss did go up at least once
    assert len(seen) >= 2 and history["restored_best"]
    assert history["best_epoch"] == min(range(len(losses)), key=losses.__getitem__)
    for k, v in model.state_dict().items():
        assert torch.equal(v, seen[-1][k]), k
    assert math.isfinite(trainer.best)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("batch, steps, hidden", [(1, 9, 12), (5, 7, 6)])
def test_fused_recurrence_equals_the_reference_loop_at_batch_one_and_small_sizes(batch, steps, hidden, masked):
    """The per-step views made once before the loops (forward and backward) change no value."""
    torch.manual_seed(1)
    lstm = LoopLSTM(2, hidden, activation="relu").double()
    x = torch.randn(batch, steps, 2, dtype=torch.double)
    lengths = torch.randint(1, steps + 1, (batch,)) if masked else None
    mask = None if lengths is None else (torch.arange(steps)[None] < lengths[:, None])
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    x_proj = torch.nn.functional.linear(x, w_ih, lstm.bias_ih_l0 + lstm.bias_hh_l0)
    h0 = torch.randn(batch, hidden, dtype=torch.double) * 0.1
    c0 = torch.randn(batch, hidden, dtype=torch.double) * 0.1
    fused = lstm._direction(x_proj, w_hh, h0, c0, mask)
    ref = lstm._reference_direction(x_proj, w_hh, h0, c0, mask)
    for a, b in zip(fused, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    weights = torch.randn(batch, steps, hidden, dtype=torch.double)
    grads = [torch.autograd.grad((out[0] * weights).sum() + out[1].sum() + 0.5 * out[2].sum(), [w_ih, w_hh],
                                 retain_graph=True) for out in (fused, ref)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
