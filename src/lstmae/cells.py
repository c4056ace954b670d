"""LSTM layers for activations that `torch.nn.LSTM` lacks (e.g. relu).

`LoopLSTM` is a drop-in for a batch-first `nn.LSTM`: the same parameter names and
shapes (`weight_ih_l0`, `weight_hh_l0_reverse`, ...; gates in the order i, f, g, o),
the same initialisation, the same `(output, (h_n, c_n))` result, so weights move
between the two. The only difference is `activation`, applied (as in Keras'
`LSTM(activation=...)`) to the candidate `g` and to the cell before the output gate:

    i, f, o = sigmoid(.), g = act(.)
    c' = f * c + i * g             (clipped to [-cell_clip, cell_clip] when given)
    h' = o * act(c')

Shape legend: N = batch size, L = time steps, F = input features, H = hidden size,
D = 2 if bidirectional else 1.

Variable-length batches are given as padded tensors plus `lengths`; the state of
each sequence stops changing after its own last step (so `h_n` is the state at that
step, as with a packed `nn.LSTM`), padded output steps are zero, and the backward
direction reads each sequence from its own last step.

Speed: each direction's recurrence is one autograd node (`_Recurrence`) whose forward and
hand-written backward through time are TorchScript loops (set ``LSTMAE_NO_JIT=1`` to run
them as plain Python); `LoopLSTM._reference_direction` keeps the plain autograd loop as the
parity reference for the tests. An input that is the same at every step (an ``expand``ed
code, as the repeat bridge feeds its decoder) is projected once per sequence.
"""
from __future__ import annotations

import math
import os
import warnings
from typing import List, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of a padded batch `(N, L, ...)` within its own length.

    Padded steps stay where they are (at the end). Applying it twice gives `x` back.
    """
    if lengths is None:
        return x.flip(1)
    n, steps = x.shape[0], x.shape[1]
    t = torch.arange(steps, device=x.device).unsqueeze(0)  # (1, L)
    lens = lengths.to(x.device).unsqueeze(1)  # (N, 1)
    idx = torch.where(t < lens, lens - 1 - t, t)  # (N, L)
    idx = idx.view(n, steps, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


def step_mask(lengths: Tensor | None, steps: int, n: int, device: torch.device) -> Tensor:
    """Boolean `(N, L)` mask, True at the valid steps of each sequence."""
    if lengths is None:
        return torch.ones(n, steps, dtype=torch.bool, device=device)
    return torch.arange(steps, device=device).unsqueeze(0) < lengths.to(device).unsqueeze(1)


class LoopLSTM(nn.Module):
    """Multi-layer LSTM with a configurable activation, batch-first, written as a loop over time.

    Parameters
    ----------
    input_size, hidden_size, num_layers, bidirectional, dropout
        As in `torch.nn.LSTM` (always `batch_first=True`); `dropout` is applied to the
        outputs of every layer but the last, in training mode.
    activation : {"relu", "tanh"}
        With "tanh" this computes exactly what `nn.LSTM` computes (used to test it).
    cell_clip : float or None
        Clip the cell state to [-cell_clip, cell_clip] after each update (as TensorFlow's
        ``LSTMCell(cell_clip=...)``); a clipped cell passes no gradient back through the clip.
        A relu cell is otherwise unbounded: once training lifts its recurrent gain above 1, a
        long sequence grows geometrically (outputs of 1e20 within one batch). None: no clip.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        activation: str = "relu",
        cell_clip: float | None = None,
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not valid; choose 'relu' or 'tanh'.")
        if cell_clip is not None and not (isinstance(cell_clip, (int, float)) and not isinstance(cell_clip, bool)
                                          and 0 < cell_clip < math.inf):
            raise ValueError(f"cell_clip={cell_clip!r} is not valid; give a positive number or None.")
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError("input_size, hidden_size and num_layers must be >= 1.")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = float(dropout)
        self.activation = activation
        self.cell_clip = None if cell_clip is None else float(cell_clip)
        self._act = _ACTIVATIONS[activation]
        directions = 2 if bidirectional else 1
        # the parameter names of each (layer, direction), made once (forward runs at every batch)
        self._param_names = [
            [tuple(f"{kind}_l{layer}{suffix}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
             for suffix in ["", "_reverse"][:directions]]
            for layer in range(num_layers)
        ]
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for suffix in ["", "_reverse"][:directions]:
                name = f"l{layer}{suffix}"
                self.register_parameter(f"weight_ih_{name}", nn.Parameter(torch.empty(4 * hidden_size, layer_in)))
                self.register_parameter(f"weight_hh_{name}", nn.Parameter(torch.empty(4 * hidden_size, hidden_size)))
                self.register_parameter(f"bias_ih_{name}", nn.Parameter(torch.empty(4 * hidden_size)))
                self.register_parameter(f"bias_hh_{name}", nn.Parameter(torch.empty(4 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)), as `nn.LSTM`."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, activation={self.activation!r}"
            + (f", cell_clip={self.cell_clip:g}" if self.cell_clip is not None else "")
        )

    def _direction(self, x_proj: Tensor, w_hh: Tensor, h: Tensor, c: Tensor, mask: Tensor | None):
        """Run one direction over time. x_proj: (N, L, 4H) input projections incl. both biases.

        The recurrence is one fused autograd node (`_Recurrence`) with a hand-written backward
        through time; `_reference_direction` is the plain autograd loop it replaces (tests).
        """
        return _Recurrence.apply(x_proj, w_hh, h, c, mask, self.activation == "relu", float(self.cell_clip or 0.0))

    def _reference_direction(self, x_proj: Tensor, w_hh: Tensor, h: Tensor, c: Tensor, mask: Tensor | None):
        """The same recurrence as a plain loop of autograd ops (the parity reference)."""
        outputs = []
        act = self._act
        for t in range(x_proj.shape[1]):
            gates = torch.addmm(x_proj[:, t], h, w_hh.t())
            i, f, g, o = gates.chunk(4, dim=1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
            if self.cell_clip:
                c_new = c_new.clamp(-self.cell_clip, self.cell_clip)
            h_new = torch.sigmoid(o) * act(c_new)
            if mask is not None:
                m = mask[:, t : t + 1]
                h_new = torch.where(m, h_new, h)
                c_new = torch.where(m, c_new, c)
            h, c = h_new, c_new
            outputs.append(h)
        out = torch.stack(outputs, dim=1)
        return out, h, c

    def forward(
        self,
        x: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run the LSTM.

        Parameters
        ----------
        x : Tensor (N, L, F)
        hx : optional (h_0, c_0), each (num_layers * D, N, H); zeros when omitted.
        lengths : optional int Tensor (N,), the valid steps of each sequence.

        Returns
        -------
        output : Tensor (N, L, D * H), zero at padded steps
        (h_n, c_n) : each (num_layers * D, N, H), the state at each sequence's last step
        """
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"LoopLSTM expects input of shape (N, L, {self.input_size}), got {tuple(x.shape)}."
            )
        n, steps, _ = x.shape
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = x.new_zeros(self.num_layers * directions, n, self.hidden_size)
            hx = (zeros, zeros)
        mask = None if lengths is None else step_mask(lengths, steps, n, x.device)
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            dir_outputs = []
            for d, (ih, hh, b_ih, b_hh) in enumerate(self._param_names[layer]):
                w_ih, w_hh = getattr(self, ih), getattr(self, hh)
                bias = getattr(self, b_ih) + getattr(self, b_hh)
                inp = layer_input if d == 0 else reverse_padded(layer_input, lengths)
                if inp.shape[1] > 1 and inp.stride(1) == 0:
                    # the same input at every step (a repeated code, `expand`ed): project it
                    # once per sequence, not once per step
                    x_proj = F.linear(inp[:, 0], w_ih, bias).unsqueeze(1).expand(-1, inp.shape[1], -1)
                else:
                    x_proj = F.linear(inp, w_ih, bias)  # all steps in one matmul
                k = layer * directions + d
                out, h, c = self._direction(x_proj, w_hh, hx[0][k], hx[1][k], mask)
                if d == 1:
                    out = reverse_padded(out, lengths)
                dir_outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_output = torch.cat(dir_outputs, dim=2) if directions == 2 else dir_outputs[0]
            if mask is not None:
                layer_output = layer_output * mask.unsqueeze(2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_output = F.dropout(layer_output, self.dropout, training=True)
            layer_input = layer_output
        return layer_input, (torch.stack(h_n), torch.stack(c_n))


# ---------------------------------------------------------------------------------------
# Fused recurrence: one direction of one layer, forward and a hand-written backward
# through time. Autograd records one node per direction instead of ~10 per time step, the
# gate nonlinearities are computed on the whole (N, 4H) gate block at once, and the weight
# gradient of the recurrent matrix is one matmul over all steps after the loop.


def _act_into(relu: bool, x: Tensor, out: Tensor) -> None:
    if relu:
        torch.clamp_min(x, 0.0, out=out)  # relu has no out= variant
    else:
        torch.tanh(x, out=out)


def _recurrence_forward(
    x_proj: Tensor, w_hh: Tensor, h0: Tensor, c0: Tensor, mask: Optional[Tensor], relu: bool, clip: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Returns gate activations (L, N, 4H), act(c_new) (L, N, H), carried h and c (L + 1, N, H)."""
    n, steps, four_h = x_proj.shape
    hid = four_h // 4
    gates = x_proj.new_empty(steps, n, four_h)
    act_c = x_proj.new_empty(steps, n, hid)
    hs = x_proj.new_empty(steps + 1, n, hid)
    cs = x_proj.new_empty(steps + 1, n, hid)
    hs[0] = h0
    cs[0] = c0
    w_t = w_hh.t()
    # every per-step view is made once, before the loop (one `unbind` each): a step is then
    # its arithmetic only (at batch 1 or small H the view ops cost as much as the arithmetic)
    x_l = x_proj.unbind(1)
    gate_l = gates.unbind(0)
    i_l = gates[:, :, :hid].unbind(0)
    f_l = gates[:, :, hid : 2 * hid].unbind(0)
    g_l = gates[:, :, 2 * hid : 3 * hid].unbind(0)
    o_l = gates[:, :, 3 * hid :].unbind(0)
    pre = x_proj.new_empty(n, four_h)  # the pre-activations of the step being computed
    pre_g = pre[:, 2 * hid : 3 * hid]
    act_l = act_c.unbind(0)
    h_l = hs.unbind(0)
    c_l = cs.unbind(0)
    m_l: List[Tensor] = []
    if mask is not None:
        m_l = mask.t().unsqueeze(2).unbind(0)  # (N, 1) per step
    for t in range(steps):
        torch.addmm(x_l[t], h_l[t], w_t, out=pre)
        torch.sigmoid(pre, out=gate_l[t])
        _act_into(relu, pre_g, g_l[t])
        i, f, g, o = i_l[t], f_l[t], g_l[t], o_l[t]
        if mask is None:
            torch.addcmul(f * c_l[t], i, g, out=c_l[t + 1])
            if clip > 0.0:
                c_l[t + 1].clamp_(-clip, clip)
            _act_into(relu, c_l[t + 1], act_l[t])
            torch.mul(o, act_l[t], out=h_l[t + 1])
        else:
            c_new = torch.addcmul(f * c_l[t], i, g)
            if clip > 0.0:
                c_new = c_new.clamp(-clip, clip)
            _act_into(relu, c_new, act_l[t])
            m = m_l[t]
            torch.where(m, o * act_l[t], h_l[t], out=h_l[t + 1])
            torch.where(m, c_new, c_l[t], out=c_l[t + 1])
    return gates, act_c, hs, cs


def _recurrence_backward(
    grad_out: Tensor, grad_hn: Tensor, grad_cn: Tensor, w_hh: Tensor,
    gates: Tensor, act_c: Tensor, hs: Tensor, cs: Tensor, mask: Optional[Tensor], relu: bool, flush: float,
    clip: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Gradients w.r.t. x_proj (N, L, 4H), w_hh (4H, H), h0, c0.

    Everything that does not depend on the carried gradient is computed for all steps at
    once before the loop, so each step is a handful of ops:

        dc_tot = dc + dh * B            B = o * act'(c_new)
        d_gates = [dc_tot, dc_tot, dc_tot, dh] * A
                                        A = [g s'(i), c_prev s'(f), i act'(g), act(c_new) s'(o)]
        dh = dh * (1 - m) + d_gates @ W_hh,   dc = dc * (1 - m) + dc_tot * (f m)

    (m: 1 at valid steps, 0 at padding; A is multiplied by m.)
    """
    steps, n, four_h = gates.shape
    hid = four_h // 4
    i = gates[:, :, :hid]
    f = gates[:, :, hid : 2 * hid]
    g = gates[:, :, 2 * hid : 3 * hid]
    o = gates[:, :, 3 * hid :]
    if relu:
        d_act_c = (act_c > 0).to(gates.dtype)
        d_act_g = (g > 0).to(gates.dtype)
    else:
        d_act_c = 1.0 - act_c * act_c
        d_act_g = 1.0 - g * g
    b = o * d_act_c
    # A written block by block into one buffer (no concatenation); s'(x) = x (1 - x) only for
    # the sigmoid gates i, f, o (the same values, elementwise, as on the whole gate block)
    a = gates.new_empty(steps, n, four_h)
    torch.mul(g, i * (1.0 - i), out=a[:, :, :hid])
    torch.mul(cs[:-1], f * (1.0 - f), out=a[:, :, hid : 2 * hid])
    torch.mul(i, d_act_g, out=a[:, :, 2 * hid : 3 * hid])
    torch.mul(act_c, o * (1.0 - o), out=a[:, :, 3 * hid :])
    f_m = f
    keep = f  # unused without a mask
    if mask is not None:
        m = mask.t().unsqueeze(2).to(gates.dtype)  # (L, N, 1)
        a.mul_(m)
        f_m = f * m
        keep = 1.0 - m
    # a clipped cell passes no gradient back through its clip (see `LoopLSTM`, `cell_clip`)
    pass_l: List[Tensor] = []
    if clip > 0.0:
        pass_l = (cs[1:].abs() < clip).to(gates.dtype).unbind(0)
    d_gates = gates.new_empty(steps, n, four_h)
    # per-step views made once, before the loop (see `_recurrence_forward`)
    a3_l = a[:, :, : 3 * hid].reshape(steps, n, 3, hid).unbind(0)
    ao_l = a[:, :, 3 * hid :].unbind(0)
    b_l = b.unbind(0)
    f_l = f_m.unbind(0)
    keep_l = keep.unbind(0)
    d_l = d_gates.unbind(0)
    d3_l = d_gates[:, :, : 3 * hid].view(steps, n, 3, hid).unbind(0)
    do_l = d_gates[:, :, 3 * hid :].unbind(0)
    grad_out_l = grad_out.unbind(1)  # (N, H) per step
    dc_tot3 = gates.new_empty(n, 1, hid)  # dc + dh * B of the step being computed, broadcast over 3 gates
    dc_tot = dc_tot3.view(n, hid)
    dh = grad_hn.clone()
    dc = grad_cn.clone()
    # Gradients that only flow back through time (an encoder's, fed at its last step) decay
    # geometrically and would turn denormal, which makes every CPU op on them ~100x slower.
    # Values below `flush` are set to zero (like flush-to-zero arithmetic, but well above
    # the denormal range); once the carried gradient is zero and no earlier output gradient
    # remains, the gradient of the remaining steps is exactly zero and the loop stops.
    has_grad = (grad_out.abs().amax(dim=(0, 2)) > 0).nonzero()
    first_grad = int(has_grad[0, 0]) if has_grad.numel() > 0 else steps  # first step with an output gradient
    for k in range(steps):
        t = steps - 1 - k
        if t % 4 == 3 or t == steps - 1:
            if float(torch.maximum(dh.abs().amax(), dc.abs().amax())) < flush:
                dh.zero_()
                dc.zero_()
                if first_grad > t:
                    d_gates[: t + 1].zero_()
                    break
        if t >= first_grad:
            dh = dh + grad_out_l[t]
        torch.addcmul(dc, dh, b_l[t], out=dc_tot)
        if clip > 0.0:
            dc_tot.mul_(pass_l[t])
        torch.mul(a3_l[t], dc_tot3, out=d3_l[t])
        torch.mul(ao_l[t], dh, out=do_l[t])
        if mask is not None:
            dh = torch.addmm(dh * keep_l[t], d_l[t], w_hh)
            dc = torch.addcmul(dc * keep_l[t], dc_tot, f_l[t])
        else:
            dh = torch.mm(d_l[t], w_hh)
            dc = dc_tot * f_l[t]
    grad_w_hh = d_gates.reshape(-1, four_h).t().mm(hs[:-1].reshape(-1, hid))
    return d_gates.transpose(0, 1), grad_w_hh, dh, dc


class _Recurrence(torch.autograd.Function):
    """Autograd node for one direction: (x_proj, w_hh, h0, c0) -> (outputs, h_n, c_n)."""

    @staticmethod
    def forward(ctx, x_proj, w_hh, h0, c0, mask, relu, clip):
        gates, act_c, hs, cs = _RECURRENCE_FORWARD(x_proj, w_hh, h0, c0, mask, relu, clip)
        ctx.save_for_backward(w_hh, gates, act_c, hs, cs, mask)
        ctx.relu = relu
        ctx.clip = clip
        out = hs[1:].transpose(0, 1)
        return out, hs[-1].clone(), cs[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_hn, grad_cn):
        w_hh, gates, act_c, hs, cs, mask = ctx.saved_tensors
        steps, n, four_h = gates.shape
        hid = four_h // 4
        if grad_out is None:
            grad_out = gates.new_zeros(n, steps, hid)
        if grad_hn is None:
            grad_hn = gates.new_zeros(n, hid)
        if grad_cn is None:
            grad_cn = gates.new_zeros(n, hid)
        flush = torch.finfo(gates.dtype).tiny * 2.0**24
        d_x, d_w, d_h0, d_c0 = _RECURRENCE_BACKWARD(
            grad_out.contiguous(), grad_hn, grad_cn, w_hh, gates, act_c, hs, cs, mask, ctx.relu, flush, ctx.clip
        )
        return d_x, d_w, d_h0, d_c0, None, None, None


def _script(fn):
    """TorchScript `fn` (no Python interpreter work per time step); plain Python if that fails."""
    if os.environ.get("LSTMAE_NO_JIT"):
        return fn
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 deprecates TorchScript
            return torch.jit.script(fn)
    except Exception:  # pragma: no cover - TorchScript unavailable or changed
        return fn


_RECURRENCE_FORWARD = _script(_recurrence_forward)
_RECURRENCE_BACKWARD = _script(_recurrence_backward)
