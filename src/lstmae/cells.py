"""LSTM layers for activations that `torch.nn.LSTM` lacks (e.g. relu).

`LoopLSTM` is a drop-in for a batch-first `nn.LSTM`: the same parameter names and
shapes (`weight_ih_l0`, `weight_hh_l0_reverse`, ...; gates in the order i, f, g, o),
the same initialisation, the same `(output, (h_n, c_n))` result, so weights move
between the two. The only difference is `activation`, applied (as in Keras'
`LSTM(activation=...)`) to the candidate `g` and to the cell before the output gate:

    i, f, o = sigmoid(.), g = act(.)
    c' = f * c + i * g
    h' = o * act(c')

Shape legend: N = batch size, L = time steps, F = input features, H = hidden size,
D = 2 if bidirectional else 1.

Variable-length batches are given as padded tensors plus `lengths`; the state of
each sequence stops changing after its own last step (so `h_n` is the state at that
step, as with a packed `nn.LSTM`), padded output steps are zero, and the backward
direction reads each sequence from its own last step.
"""
from __future__ import annotations

import math

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
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not valid; choose 'relu' or 'tanh'.")
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError("input_size, hidden_size and num_layers must be >= 1.")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = float(dropout)
        self.activation = activation
        self._act = _ACTIVATIONS[activation]
        directions = 2 if bidirectional else 1
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
        )

    def _direction(self, x_proj: Tensor, w_hh: Tensor, h: Tensor, c: Tensor, mask: Tensor | None):
        """Run one direction over time. x_proj: (N, L, 4H) input projections incl. both biases."""
        outputs = []
        act = self._act
        for t in range(x_proj.shape[1]):
            gates = torch.addmm(x_proj[:, t], h, w_hh.t())
            i, f, g, o = gates.chunk(4, dim=1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
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
            for d, suffix in enumerate(["", "_reverse"][:directions]):
                name = f"l{layer}{suffix}"
                w_ih = getattr(self, f"weight_ih_{name}")
                w_hh = getattr(self, f"weight_hh_{name}")
                bias = getattr(self, f"bias_ih_{name}") + getattr(self, f"bias_hh_{name}")
                inp = layer_input if d == 0 else reverse_padded(layer_input, lengths)
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
