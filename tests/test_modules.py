"""Parity tests of the nn.Modules (minGPT style): our LSTM cell vs. nn.LSTM and a plain
reference loop, packed vs. padded batches, time reversal."""
import numpy as np
import pytest
import torch
from torch import nn

from lstmae.cells import LoopLSTM, reverse_padded
from lstmae.config import ModelConfig
from lstmae.modules import Autoencoder, Encoder

torch.manual_seed(0)


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    dst.load_state_dict(src.state_dict(), strict=True)


def reference_lstm(mod: LoopLSTM, seq: torch.Tensor, act) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Plain per-step loop over ONE unpadded sequence (L, F), written from the equations."""
    H, D = mod.hidden_size, 2 if mod.bidirectional else 1
    layer_in = seq
    hs, cs = [], []
    for layer in range(mod.num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:D]):
            w_ih = getattr(mod, f"weight_ih_l{layer}{suffix}")
            w_hh = getattr(mod, f"weight_hh_l{layer}{suffix}")
            b = getattr(mod, f"bias_ih_l{layer}{suffix}") + getattr(mod, f"bias_hh_l{layer}{suffix}")
            h = torch.zeros(H, dtype=seq.dtype)
            c = torch.zeros(H, dtype=seq.dtype)
            steps = range(seq.shape[0]) if d == 0 else reversed(range(seq.shape[0]))
            out = [None] * seq.shape[0]
            for t in steps:
                z = w_ih @ layer_in[t] + w_hh @ h + b
                i, f, g, o = z[:H], z[H : 2 * H], z[2 * H : 3 * H], z[3 * H :]
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
                h = torch.sigmoid(o) * act(c)
                out[t] = h
            outs.append(torch.stack(out))
            hs.append(h)
            cs.append(c)
        layer_in = torch.cat(outs, dim=1)
    return layer_in, torch.stack(hs), torch.stack(cs)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("variable", [False, True])
def test_loop_lstm_tanh_matches_nn_lstm(bidirectional, num_layers, variable):
    torch.manual_seed(1)
    ref = nn.LSTM(3, 5, num_layers=num_layers, bidirectional=bidirectional, batch_first=True).double()
    mine = LoopLSTM(3, 5, num_layers, bidirectional, activation="tanh").double()
    copy_weights(ref, mine)
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 3, 5, 1]) if variable else None
    from lstmae.modules import run_lstm

    out_ref, (h_ref, c_ref) = run_lstm(ref, x, lengths)
    out, (h, c) = run_lstm(mine, x, lengths)
    assert out.shape == out_ref.shape == (4, 7, 5 * (2 if bidirectional else 1))
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(h, h_ref, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(c, c_ref, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_relu_cell_matches_plain_reference_loop(bidirectional):
    torch.manual_seed(2)
    mod = LoopLSTM(2, 4, num_layers=2, bidirectional=bidirectional, activation="relu").double()
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    out, (h, c) = mod(x, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        ref_out, ref_h, ref_c = reference_lstm(mod, x[i, :n], torch.relu)
        torch.testing.assert_close(out[i, :n], ref_out, atol=1e-6, rtol=0)
        assert torch.all(out[i, n:] == 0), "padded output steps must be zero"
        torch.testing.assert_close(h[:, i], ref_h, atol=1e-6, rtol=0)
        torch.testing.assert_close(c[:, i], ref_c, atol=1e-6, rtol=0)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_codes_equal_codes_of_each_sequence_alone(activation, bidirectional):
    torch.manual_seed(3)
    cfg = ModelConfig(n_features=2, hidden_size=6, num_layers=2, bidirectional=bidirectional, activation=activation)
    enc = Encoder(cfg).eval()
    lengths = torch.tensor([5, 9, 2, 7])
    x = torch.randn(4, 9, 2)
    x = x * (torch.arange(9)[None, :, None] < lengths[:, None, None])
    batch_codes = enc(x, lengths)[0]
    for i, n in enumerate(lengths.tolist()):
        alone = enc(x[i : i + 1, :n])[0]
        torch.testing.assert_close(batch_codes[i : i + 1], alone, atol=1e-5, rtol=0)
    # garbage in the padding must not change anything
    noisy = x + 100.0 * (torch.arange(9)[None, :, None] >= lengths[:, None, None])
    torch.testing.assert_close(enc(noisy, lengths)[0], batch_codes, atol=1e-6, rtol=0)


def test_reverse_padded_reverses_within_each_length_and_is_an_involution():
    x = torch.arange(12.0).view(2, 6, 1)
    lengths = torch.tensor([6, 4])
    r = reverse_padded(x, lengths)
    assert r[0, :, 0].tolist() == [5, 4, 3, 2, 1, 0]
    assert r[1, :, 0].tolist() == [9, 8, 7, 6, 10, 11]  # padding stays at the end
    torch.testing.assert_close(reverse_padded(r, lengths), x)


@pytest.mark.parametrize("bridge", ["repeat", "state"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_conditional_teacher_forcing_equals_free_running_on_own_outputs(bridge, activation):
    """Fed its own free-running outputs as the teacher, a conditional decoder must give the same outputs."""
    torch.manual_seed(4)
    cfg = ModelConfig(n_features=3, task="composite", horizon=4, hidden_size=8, bridge=bridge,
                      conditional=True, reverse=True, activation=activation)
    model = Autoencoder(cfg).eval()
    x = torch.randn(2, 5, 3)
    code, state, _ = model.encoder(x)
    free = model.predictor(code, state, 4, first_frame=x[:, -1])
    forced = model.predictor(code, state, 4, teacher=free, first_frame=x[:, -1])
    torch.testing.assert_close(forced, free, atol=1e-6, rtol=0)


def test_autoencoder_outputs_and_masked_loss_shapes():
    cfg = ModelConfig(n_features=2, task="composite", horizon=3, hidden_size=8, code_size=4, bridge="state")
    model = Autoencoder(cfg)
    x = torch.randn(5, 7, 2)
    lengths = torch.tensor([7, 7, 3, 5, 1])
    outputs, loss = model({"x": x, "lengths": lengths, "future": torch.randn(5, 3, 2)})
    assert outputs["code"].shape == (5, 4)
    assert outputs["reconstruction"].shape == (5, 7, 2)
    assert outputs["forecast"].shape == (5, 3, 2)
    assert torch.all(outputs["step_errors"][4, 1:] == 0)
    w = cfg.loss_weights
    expected = w[0] * outputs["losses"]["reconstruct"] + w[1] * outputs["losses"]["predict"]
    torch.testing.assert_close(loss, expected)
    assert model({"x": x, "lengths": lengths})[1] is not None  # reconstruction loss alone
    pred_only = Autoencoder(ModelConfig(n_features=2, task="predict", horizon=3, hidden_size=4))
    assert pred_only({"x": x})[1] is None  # no target, no loss
