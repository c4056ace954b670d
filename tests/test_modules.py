"""Parity tests of the nn.Modules (minGPT style): our LSTM cell vs. nn.LSTM and a plain
reference loop, packed vs. padded batches, time reversal."""
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


# --------------------------------------------------------------------------- fused recurrence
@pytest.mark.parametrize("cell_clip", [None, 0.3])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_recurrence_gradients_match_autograd_reference_loop(activation, masked, cell_clip):
    """The hand-written backward through time (`_Recurrence`) against autograd on the plain loop,
    with and without a clipped cell."""
    torch.manual_seed(3)
    mod = LoopLSTM(2, 4, activation=activation, cell_clip=cell_clip).double()
    n, steps, hid = 3, 6, 4
    x_proj = torch.randn(n, steps, 4 * hid, dtype=torch.float64, requires_grad=True)
    w_hh = (0.5 * torch.randn(4 * hid, hid, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(n, hid, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(n, hid, dtype=torch.float64, requires_grad=True)
    mask = (torch.arange(steps)[None] < torch.tensor([6, 2, 4])[:, None]) if masked else None
    inputs = (x_proj, w_hh, h0, c0)
    weights = [torch.randn(n, steps, hid, dtype=torch.float64), torch.randn(n, hid, dtype=torch.float64),
               torch.randn(n, hid, dtype=torch.float64)]

    def loss(outs):
        return sum((o * w).sum() for o, w in zip(outs, weights))

    ref = mod._reference_direction(*inputs, mask)
    mine = mod._direction(*inputs, mask)
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    if cell_clip is not None:  # the clip is active: some cells sit at the bound, none beyond it
        _, _, c_all, _ = _cells_of(mod, inputs, mask)
        assert c_all.abs().max() == cell_clip and (c_all.abs() == cell_clip).float().mean() > 0.05
    g_ref = torch.autograd.grad(loss(ref), inputs)
    g_mine = torch.autograd.grad(loss(mine), inputs)
    for a, b in zip(g_mine, g_ref):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    from lstmae.cells import _Recurrence

    clip = float(cell_clip or 0.0)
    assert torch.autograd.gradcheck(lambda *a: _Recurrence.apply(*a, mask, activation == "relu", clip), inputs)


def _cells_of(mod, inputs, mask):
    """The fused forward's saved tensors (gates, act(c), h, c over time) for `inputs`."""
    from lstmae.cells import _RECURRENCE_FORWARD

    with torch.no_grad():
        gates, act_c, hs, cs = _RECURRENCE_FORWARD(*inputs, mask, mod.activation == "relu",
                                                   float(mod.cell_clip or 0.0))
    return gates, act_c, cs[1:], hs


def test_cell_clip_is_validated_and_shown():
    with pytest.raises(ValueError, match="cell_clip=0 is not valid; give a positive number or None"):
        LoopLSTM(2, 4, cell_clip=0)
    assert "cell_clip=1" in repr(LoopLSTM(2, 4, cell_clip=1.0))


def test_fused_recurrence_flushes_vanishing_gradients_to_exact_zero():
    """A long encoder-like sequence (gradient only at the last step): early-step gradients that
    would be denormal are zero, the rest agree with autograd."""
    torch.manual_seed(4)
    mod = LoopLSTM(1, 8, activation="relu")
    n, steps, hid = 4, 400, 8
    x_proj = (0.1 * torch.randn(n, steps, 4 * hid) - 3.0).requires_grad_()  # forget gates ~0: fast decay
    w_hh = (0.1 * torch.randn(4 * hid, hid)).requires_grad_()
    h0 = torch.zeros(n, hid)
    c0 = torch.zeros(n, hid)
    _, h, _ = mod._direction(x_proj, w_hh, h0, c0, None)
    g = torch.autograd.grad(h.sum(), x_proj)[0]
    _, h_ref, _ = mod._reference_direction(x_proj, w_hh, h0, c0, None)
    g_ref = torch.autograd.grad(h_ref.sum(), x_proj)[0]
    tiny = torch.finfo(torch.float32).tiny
    assert not ((g != 0) & (g.abs() < tiny)).any(), "no denormal gradients"
    assert (g[:, 0] == 0).all()
    torch.testing.assert_close(g, g_ref, atol=1e-30, rtol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_repeated_input_is_projected_once_with_the_same_result(activation):
    """A `LoopLSTM` fed an expanded (repeated) input projects it once; results and gradients
    equal those of the same input materialised at every step."""
    torch.manual_seed(5)
    mod = LoopLSTM(3, 5, activation=activation).double()
    code = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    expanded = code.unsqueeze(1).expand(4, 7, 3)
    assert expanded.stride(1) == 0
    out, (h, c) = mod(expanded)
    out_ref, (h_ref, c_ref) = mod(expanded.contiguous())
    torch.testing.assert_close(out, out_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(h, h_ref, atol=1e-12, rtol=0)
    g = torch.autograd.grad(out.sum() + c.sum(), [code, mod.weight_ih_l0])
    g_ref = torch.autograd.grad(out_ref.sum() + c_ref.sum(), [code, mod.weight_ih_l0])
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("pooling", ["last", "last_hc", "mean"])
def test_features_runs_the_encoder_alone_and_gives_the_forward_pass_features(pooling):
    cfg = ModelConfig(n_features=2, hidden_size=6, task="composite", horizon=3, pooling=pooling)
    model = Autoencoder(cfg).eval()
    x = torch.randn(5, 8, 2)
    lengths = torch.tensor([8, 3, 5, 8, 1])
    full, _ = model({"x": x, "lengths": lengths})
    torch.testing.assert_close(model.features({"x": x, "lengths": lengths}), full["features"])
    assert model.features({"x": x}).shape == (5, cfg.pooled_dim)


def test_bucket_order_groups_similar_lengths_and_keeps_every_sequence():
    from lstmae.training import bucket_order

    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(10, 201, (1000,), generator=g)
    order = torch.randperm(1000, generator=g)
    bucketed = bucket_order(order, lengths, 64, torch.Generator().manual_seed(1))
    assert sorted(bucketed.tolist()) == list(range(1000))
    padded_steps = sum(int(lengths[b].max()) * len(b) for b in bucketed.split(64))
    random_steps = sum(int(lengths[b].max()) * len(b) for b in order.split(64))
    assert padded_steps < 0.7 * random_steps
    same = torch.full((1000,), 7)
    assert torch.equal(bucket_order(order, same, 64), order)  # equal lengths: unchanged
    assert torch.equal(bucket_order(order, None, 64), order)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_split_run_of_a_padded_batch_equals_the_packed_run_with_gradients(num_layers):
    """`run_lstm` runs a unidirectional nn.LSTM on the common steps unpacked and the rest packed:
    outputs, final states and gradients equal those of one packed run."""
    from lstmae.modules import _run_packed, _run_split

    torch.manual_seed(6)
    lstm = nn.LSTM(3, 5, num_layers=num_layers, batch_first=True).double()
    x = torch.randn(5, 9, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 4, 6, 4, 8])
    h0 = torch.randn(num_layers, 5, 5, dtype=torch.float64)
    for hx in (None, (h0, h0.clone())):
        a_out, (a_h, a_c) = _run_split(lstm, x, lengths, hx)
        b_out, (b_h, b_c) = _run_packed(lstm, x, lengths, hx)
        for a, b in ((a_out, b_out), (a_h, b_h), (a_c, b_c)):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
        w = torch.randn_like(a_out)
        ga = torch.autograd.grad((a_out * w).sum() + a_h.sum() + a_c.sum(), [x, lstm.weight_hh_l0])
        gb = torch.autograd.grad((b_out * w).sum() + b_h.sum() + b_c.sum(), [x, lstm.weight_hh_l0])
        for a, b in zip(ga, gb):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("reverse", [False, True])
def test_teacher_forcing_always_reconstructs_in_eval_as_in_training(reverse):
    """teacher_forcing="always": eval-mode reconstruction is the training-mode (teacher-forced) one, each step fed
    the true frame before it (in emission order); the forecast still runs on its own outputs."""
    torch.manual_seed(5)
    cfg = ModelConfig(n_features=2, task="composite", horizon=3, hidden_size=8, conditional=True, reverse=reverse,
                      teacher_forcing="always")
    model = Autoencoder(cfg)
    x, future = torch.randn(4, 6, 2), torch.randn(4, 3, 2)
    trained = model.train()({"x": x, "future": future})[0]
    evaluated = model.eval()({"x": x, "future": future})[0]
    torch.testing.assert_close(evaluated["reconstruction"], trained["reconstruction"])
    # by hand: the decoder fed [0, x_1 .. x_{L-1}] (emission order) beside the repeated code
    target = reverse_padded(x, None) if reverse else x
    code, state, _ = model.encoder(x)
    by_hand = model.reconstructor(code, state, 6, teacher=target)
    torch.testing.assert_close(evaluated["reconstruction"], reverse_padded(by_hand, None) if reverse else by_hand)
    # the forecast has no true future at inference: free-running, as with teacher_forcing="train"
    free = Autoencoder(ModelConfig(**{**cfg.to_dict(), "teacher_forcing": "train"}))
    free.load_state_dict(model.state_dict())
    torch.testing.assert_close(evaluated["forecast"], free.eval()({"x": x})[0]["forecast"])
    assert not torch.allclose(free({"x": x})[0]["reconstruction"], evaluated["reconstruction"])
