"""The LSTM autoencoder as `nn.Module`s: Encoder, Decoder, Autoencoder.

Nothing here knows about numpy, scaling or training loops. The trainer calls
`Autoencoder(batch) -> (outputs, loss)`.

Shape legend: N = batch size, L = time steps, F = features, H = hidden size,
D = 2 if the encoder is bidirectional else 1, C = code size, K = forecast horizon.

A batch is a dict of tensors:

- ``x``: (N, L, F) input sequences, zero-padded after each sequence's end;
- ``lengths``: optional (N,) int64, valid steps of each sequence (all L when absent);
- ``future``: optional (N, K, F) targets for the prediction decoder.

`Autoencoder.features(batch)` runs the encoder alone (what `transform` needs).

Variable-length batches run through `nn.LSTM` packed (`pack_padded_sequence` with
`enforce_sorted=False`), so the code of every sequence is the state at its own last
step, never at the padding.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .cells import LoopLSTM, reverse_padded, step_mask
from .config import ModelConfig

LSTMState = tuple[Tensor, Tensor]


def make_lstm(
    input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, dropout: float, activation: str,
    cell_clip: float | None = None,
) -> nn.Module:
    """`nn.LSTM` for tanh (fused kernels), `LoopLSTM` for other activations (with `cell_clip`);
    both batch-first and initialised by `init_lstm_` (Keras's initialisation)."""
    dropout = dropout if num_layers > 1 else 0.0
    if activation == "tanh":
        if cell_clip is not None:
            raise ValueError("cell_clip applies to relu LSTMs only (a tanh cell's output is bounded already).")
        return init_lstm_(nn.LSTM(
            input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, batch_first=True,
        ))
    return init_lstm_(LoopLSTM(input_size, hidden_size, num_layers, bidirectional, dropout, activation, cell_clip))


def make_linear(in_features: int, out_features: int, activation: str) -> nn.Linear:
    """A linear layer; in relu models initialised as Keras's ``Dense`` (Glorot-uniform weights, zero
    bias), in tanh models as PyTorch's (their defaults were measured with it).

    Measured on the Keras tutorial's relu model (docs/benchmarks.md, "Initialisation"): with
    Keras's LSTM initialisation but PyTorch's output layer the reconstruction's max error was
    0.020 (median of 10 seeds; Keras 0.007), with both Keras's 0.0045.
    """
    layer = nn.Linear(in_features, out_features)
    if activation == "relu" and not layer.weight.is_meta:
        with torch.no_grad():
            nn.init.xavier_uniform_(layer.weight)
            layer.bias.zero_()
    return layer


def init_lstm_(lstm: nn.Module) -> nn.Module:
    """Keras's LSTM initialisation, in place, for `nn.LSTM` and `LoopLSTM` (same parameter names,
    gates in the order i, f, g, o): Glorot-uniform input weights (``weight_ih_*``, fan-in F,
    fan-out 4H), orthogonal recurrent weights (``weight_hh_*``, the (4H, H) matrix as a whole,
    as Keras's (H, 4H) kernel), zero biases except a forget-gate bias of 1 in ``bias_ih_*``
    only (PyTorch adds ``bias_ih`` and ``bias_hh``, so the sum is Keras's 1).

    Chosen by measurement over PyTorch's default uniform(+-1/sqrt(H)) (docs/benchmarks.md,
    "Initialisation"). tanh LSTMs: better codes (gunpoint probe 0.82 vs 0.69) and an EncDec-AD
    model that trains past its early validation bump. relu LSTMs (with a clipped cell and
    Keras's output layer, `make_linear`): on 4,096 unscaled sines of 140 steps they learn
    (loss 0.50 -> 0.20-0.23 in 6 epochs, 3 seeds) where PyTorch's initialisation stays at the
    data's variance (0.50). Works on both kinds (same parameter names). It only affects new
    models: saved weights load unchanged. Returns `lstm`.
    """
    hidden = lstm.hidden_size
    if any(p.is_meta for p in lstm.parameters()):
        return lstm  # shapes only (serialization's checks build models on the meta device): no values to set
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(p)
            elif name.startswith("bias_ih"):
                p.zero_()
                p[hidden : 2 * hidden] = 1.0
            elif name.startswith("bias_hh"):
                p.zero_()
    return lstm


def run_lstm(
    lstm: nn.Module, x: Tensor, lengths: Tensor | None = None, hx: LSTMState | None = None
) -> tuple[Tensor, LSTMState]:
    """Run either kind of LSTM on a padded batch.

    Returns the output (N, L, D*H), zero at padded steps, and (h_n, c_n) taken at each
    sequence's own last step.
    """
    if lengths is not None and bool((lengths == x.shape[1]).all()):
        lengths = None  # nothing is padded: skip packing
    if isinstance(lstm, LoopLSTM):
        return lstm(x, hx, lengths)
    if lengths is None:
        return lstm(x, hx)
    if not lstm.bidirectional:
        return _run_split(lstm, x, lengths, hx)
    return _run_packed(lstm, x, lengths, hx)


def _run_packed(lstm: nn.LSTM, x: Tensor, lengths: Tensor, hx: LSTMState | None) -> tuple[Tensor, LSTMState]:
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, state = lstm(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


def _run_split(lstm: nn.LSTM, x: Tensor, lengths: Tensor, hx: LSTMState | None) -> tuple[Tensor, LSTMState]:
    """A unidirectional `nn.LSTM` on a padded batch: the steps every sequence has run unpacked,
    the rest packed from the state reached there.

    Exact (each state depends only on earlier steps), and faster: on CPU a packed `nn.LSTM`
    does not use the oneDNN kernel (~3x slower per step), and with length-bucketed batches
    (`training.bucket_order`) almost all steps are shared by every sequence.
    """
    lengths = lengths.cpu()
    steps = x.shape[1]
    common = int(lengths.min())
    out1, (h1, c1) = lstm(x[:, :common], hx)
    rest = lengths - common
    done = rest == 0
    if bool(done.all()):
        return F.pad(out1, (0, 0, 0, steps - common)), (h1, c1)
    # sequences already finished run one dummy step; their state and output are discarded below
    packed = pack_padded_sequence(x[:, common:], rest.clamp(min=1), batch_first=True, enforce_sorted=False)
    out2, (h2, c2) = lstm(packed, (h1, c1))
    out2, _ = pad_packed_sequence(out2, batch_first=True, total_length=steps - common)
    if bool(done.any()):
        d = done.to(x.device)
        out2 = out2.masked_fill(d.view(-1, 1, 1), 0.0)
        keep = d.view(1, -1, 1)
        h2 = torch.where(keep, h1, h2)
        c2 = torch.where(keep, c1, c2)
    return torch.cat([out1, out2], dim=1), (h2, c2)


class Encoder(nn.Module):
    """Reads (N, L, F) sequences into codes (N, C).

    The code is the final hidden state of the top layer at each sequence's last step
    (both directions concatenated when bidirectional), optionally passed through a
    linear bottleneck of size `code_size`.

    `pool` gives the fixed-length features `transform` returns, by ``cfg.pooling``:
    "last" is the code itself; "last_hc" the final (h, c) of every layer and
    direction, (N, 2 * num_layers * D * H), ordered [h | c], each layer by layer,
    forward before backward; "mean" the mean of the top layer's outputs (N, D * H)
    over each sequence's valid steps; "all" is [last_hc | mean | max], the max of the top
    layer's outputs over the valid steps too (N, (2 * num_layers + 2) * D * H): what
    docs/benchmarks.md ("Representations") measured best for classification. "last_hc",
    "mean" and "all" read the LSTM directly, before any bottleneck.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_directions = cfg.num_directions
        self.pooling = cfg.pooling
        self.lstm = make_lstm(
            cfg.n_features, cfg.hidden_size, cfg.num_layers, cfg.bidirectional, cfg.dropout, cfg.activation,
            cfg.cell_clip,
        )
        summary = cfg.num_directions * cfg.hidden_size
        self.bottleneck = (make_linear(summary, cfg.code_size, cfg.activation) if cfg.code_size is not None
                           else None)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, LSTMState, Tensor]:
        """Returns code (N, C), the final state (h_n, c_n) of every layer, and the outputs (N, L, D*H)."""
        out, (h_n, c_n) = run_lstm(self.lstm, x, lengths)
        top = h_n[-self.num_directions :]  # (D, N, H): forward then backward direction
        summary = top.transpose(0, 1).reshape(x.shape[0], -1)
        code = self.bottleneck(summary) if self.bottleneck is not None else summary
        return code, (h_n, c_n), out

    def pool(self, x: Tensor, lengths: Tensor | None = None, how: str | None = None) -> Tensor:
        """Fixed-length features (N, pooled_dim) of `x` by `how` (default: the config's pooling)."""
        code, state, out = self(x, lengths)
        return self.pool_from(code, state, out, lengths, how)

    def pool_from(
        self, code: Tensor, state: LSTMState, out: Tensor, lengths: Tensor | None = None, how: str | None = None
    ) -> Tensor:
        """`pool` from the results of `forward` (no second pass over the sequences)."""
        how = how or self.pooling
        if how == "last":
            return code
        n = code.shape[0]
        if how == "last_hc":
            h_n, c_n = state  # each (num_layers * D, N, H)
            return torch.cat([h_n.transpose(0, 1).reshape(n, -1), c_n.transpose(0, 1).reshape(n, -1)], dim=1)
        if how in ("mean", "all"):
            steps = out.shape[1]
            valid = step_mask(lengths, steps, n, out.device).unsqueeze(2)  # (N, L, 1)
            mask = valid.to(out.dtype)
            mean = (out * mask).sum(dim=1) / mask.sum(dim=1)
            if how == "mean":
                return mean
            top = out.masked_fill(~valid, float("-inf")).amax(dim=1)
            return torch.cat([self.pool_from(code, state, out, lengths, "last_hc"), mean, top], dim=1)
        raise ValueError(f"pooling={how!r} is not valid; choose 'last', 'last_hc', 'mean' or 'all'.")


class Decoder(nn.Module):
    """Emits `steps` frames (N, steps, F) from a code.

    - ``bridge="repeat"``: the code is the input at every step (Keras RepeatVector);
      the LSTM starts from zeros.
    - ``bridge="state"``: the LSTM starts from the encoder's final (h, c) of every layer
      (Srivastava et al. 2015). With a bottleneck or a bidirectional encoder the start
      state is a learned linear map of the code instead, so the code stays the only
      path from encoder to decoder.
    - ``conditional``: each step also receives the previous frame: the given targets
      shifted by one while teacher forcing, its own previous output otherwise.

    Returns logits: identity for regression losses, pre-sigmoid for "bce".
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.bridge = cfg.bridge
        self.conditional = cfg.conditional
        self.num_layers = cfg.num_layers
        self.hidden_size = cfg.hidden_size
        self.n_features = cfg.n_features
        self.sigmoid_output = cfg.loss == "bce"
        code_in = cfg.latent_dim if cfg.bridge == "repeat" else 0
        frame_in = cfg.n_features if cfg.conditional else 0
        # an unconditioned state-bridge decoder has no input: it reads a constant zero
        self.input_size = max(code_in + frame_in, 1)
        self.lstm = make_lstm(self.input_size, cfg.hidden_size, cfg.num_layers, False, cfg.dropout, cfg.activation,
                              cfg.cell_clip)
        self.head = make_linear(cfg.hidden_size, cfg.n_features, cfg.activation)
        needs_map = cfg.bridge == "state" and (cfg.code_size is not None or cfg.bidirectional)
        self.init_state = (make_linear(cfg.latent_dim, 2 * cfg.num_layers * cfg.hidden_size, cfg.activation)
                           if needs_map else None)

    def initial_state(self, code: Tensor, enc_state: LSTMState) -> LSTMState | None:
        if self.bridge == "repeat":
            return None
        if self.init_state is None:
            return enc_state
        n = code.shape[0]
        z = self.init_state(code).view(n, 2, self.num_layers, self.hidden_size).permute(1, 2, 0, 3)
        return torch.tanh(z[0]).contiguous(), z[1].contiguous()

    def _inputs(self, code: Tensor, prev: Tensor | None, steps: int) -> Tensor:
        """Decoder input (N, steps, input_size) from the code and the previous frames."""
        n = code.shape[0]
        parts = []
        if self.bridge == "repeat":
            parts.append(code.unsqueeze(1).expand(n, steps, code.shape[1]))
        if self.conditional:
            parts.append(prev)
        if not parts:
            return code.new_zeros(n, steps, 1)
        return torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]

    def forward(
        self,
        code: Tensor,
        enc_state: LSTMState,
        steps: int,
        teacher: Tensor | None = None,
        first_frame: Tensor | None = None,
    ) -> Tensor:
        """Decode.

        Parameters
        ----------
        code : (N, C)
        enc_state : (h_n, c_n) of the encoder, used by the state bridge
        steps : number of frames to emit
        teacher : optional (N, steps, F) target frames in emission order; a conditional
            decoder is then fed them shifted by one step (teacher forcing)
        first_frame : optional (N, F) frame fed to a conditional decoder before its first
            output (zeros when omitted)
        """
        n = code.shape[0]
        state = self.initial_state(code, enc_state)
        if not self.conditional or teacher is not None:
            prev = None
            if self.conditional:
                first = first_frame if first_frame is not None else code.new_zeros(n, self.n_features)
                prev = torch.cat([first.unsqueeze(1), teacher[:, :-1]], dim=1)
            out, _ = run_lstm(self.lstm, self._inputs(code, prev, steps), hx=state)
            return self.head(out)
        # free-running conditional decoding: feed back its own output, one step at a time
        frame = first_frame if first_frame is not None else code.new_zeros(n, self.n_features)
        logits = []
        for _ in range(steps):
            out, state = run_lstm(self.lstm, self._inputs(code, frame.unsqueeze(1), 1), hx=state)
            step_logits = self.head(out[:, 0])
            logits.append(step_logits)
            frame = torch.sigmoid(step_logits) if self.sigmoid_output else step_logits
        return torch.stack(logits, dim=1)


def elementwise_loss(kind: str, logits: Tensor, target: Tensor) -> Tensor:
    """Unreduced loss of each element; `logits` are pre-sigmoid for "bce"."""
    if kind == "mse":
        return F.mse_loss(logits, target, reduction="none")
    if kind == "mae":
        return F.l1_loss(logits, target, reduction="none")
    if kind == "huber":
        return F.huber_loss(logits, target, reduction="none")
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


class Autoencoder(nn.Module):
    """Encoder plus a reconstruction decoder, a prediction decoder, or both (composite).

    ``forward(batch)`` returns ``(outputs, loss)``. ``outputs`` holds ``code`` (N, C),
    ``features`` (N, pooled_dim): the code pooled by ``cfg.pooling`` (what ``transform``
    returns; the decoders always read ``code``),
    ``reconstruction`` (N, L, F) in natural time order (whatever ``reverse`` does
    inside), ``forecast`` (N, K, F), ``losses`` (the unweighted loss of each decoder
    that had a target) and ``step_errors`` (N, L, F): the elementwise reconstruction
    loss, zero at padded steps. ``loss`` is the weighted sum of the decoders' losses
    (``loss_weights``), or None when the batch has no targets.

    In training mode conditional decoders are teacher-forced; in eval mode they run on
    their own outputs, so validation losses measure what inference will do. With
    ``cfg.teacher_forcing == "always"`` the reconstruction decoder is teacher-forced in eval
    mode too (its target is the input, known at inference): each reconstructed step is then
    predicted from the code and the true frame before it, and validation measures that.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.code_dropout = nn.Dropout(cfg.dropout)
        self.reconstructor = Decoder(cfg) if cfg.has_reconstruction else None
        self.predictor = Decoder(cfg) if cfg.has_prediction else None

    def output(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.cfg.loss == "bce" else logits

    def features(self, batch: dict[str, Tensor]) -> Tensor:
        """The pooled code (N, pooled_dim) of ``batch["x"]`` (what `transform` returns), without decoding."""
        return self.encoder.pool(batch["x"], batch.get("lengths"))

    def forward(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor | dict], Tensor | None]:
        x = batch["x"]
        lengths = batch.get("lengths")
        future = batch.get("future")
        n, steps, _ = x.shape
        teacher_forcing = self.training and self.cfg.conditional
        # teacher_forcing="always": reconstruction knows its target, so each step may read the true frame before it
        teacher_reconstruct = self.cfg.conditional and (self.training or self.cfg.teacher_forcing == "always")
        x_in = x
        if self.training and self.cfg.input_noise > 0:  # a denoising autoencoder: the targets stay clean
            x_in = x + self.cfg.input_noise * torch.randn_like(x)
        code, enc_state, enc_out = self.encoder(x_in, lengths)
        dec_code = self.code_dropout(code)
        outputs: dict[str, Tensor | dict] = {"code": code}
        outputs["features"] = self.encoder.pool_from(code, enc_state, enc_out, lengths)  # what transform returns
        losses: dict[str, Tensor] = {}
        if self.reconstructor is not None:
            target = reverse_padded(x, lengths) if self.cfg.reverse else x  # emission order
            logits = self.reconstructor(dec_code, enc_state, steps, teacher=target if teacher_reconstruct else None)
            if self.cfg.reverse:
                logits = reverse_padded(logits, lengths)  # back to natural order
            mask = step_mask(lengths, steps, n, x.device).unsqueeze(2).to(x.dtype)
            errors = elementwise_loss(self.cfg.loss, logits, x) * mask
            outputs["reconstruction"] = self.output(logits)
            outputs["step_errors"] = errors
            losses["reconstruct"] = errors.sum() / (mask.sum() * x.shape[2])
        if self.predictor is not None:
            last = lengths - 1 if lengths is not None else torch.full((n,), steps - 1, device=x.device)
            last_frame = x[torch.arange(n, device=x.device), last.to(x.device)]
            logits = self.predictor(
                dec_code, enc_state, self.cfg.horizon,
                teacher=future if (teacher_forcing and future is not None) else None,
                first_frame=last_frame,
            )
            outputs["forecast"] = self.output(logits)
            if future is not None:
                losses["predict"] = elementwise_loss(self.cfg.loss, logits, future).mean()
        outputs["losses"] = losses
        if not losses:
            return outputs, None
        w_rec, w_pred = self.cfg.loss_weights
        loss = sum(
            (w_rec if name == "reconstruct" else w_pred) * value for name, value in losses.items()
        )
        return outputs, loss


class Classifier(nn.Module):
    """An `Encoder` and a linear head on its pooled code: sequences (N, L, F) -> class logits (N, K).

    ``forward(batch)`` returns ``(outputs, loss)``: ``outputs`` holds ``logits`` (N, K),
    ``proba`` (N, K) (softmax) and ``features`` (N, pooled_dim), the pooled code the head
    reads (``cfg.pooling``); ``loss`` is the cross-entropy against ``batch["y"]`` (int64
    class indices, weighted by `class_weight` when given), or None without ``y``.

    `freeze_encoder` stops the encoder's gradients and keeps it in eval mode (no
    dropout) even while the head trains: a linear probe.
    """

    def __init__(
        self, cfg: ModelConfig, n_classes: int, class_weight: Tensor | None = None, freeze_encoder: bool = False
    ) -> None:
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes={n_classes!r} is not valid; it must be >= 1.")
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.code_dropout = nn.Dropout(cfg.dropout)
        self.head = make_linear(cfg.pooled_dim, n_classes, cfg.activation)
        # not part of the state dict: a training setting, not a weight
        self.register_buffer("class_weight", class_weight, persistent=False)
        # L2 penalty per head weight (K, pooled_dim) added to the training loss, or None: LP-FT sets it
        # to the logistic-regression probe's own penalty, so fine-tuning optimises the probe's objective
        self.register_buffer("head_penalty", None, persistent=False)
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def forward(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], Tensor | None]:
        x, lengths = batch["x"], batch.get("lengths")
        features = self.encoder.pool(x, lengths)
        logits = self.head(self.code_dropout(features))
        outputs = {"logits": logits, "proba": torch.softmax(logits, dim=1), "features": features}
        y = batch.get("y")
        if y is None:
            return outputs, None
        loss = F.cross_entropy(logits, y, weight=self.class_weight)
        if self.head_penalty is not None and self.training:
            loss = loss + (self.head_penalty * self.head.weight.square()).sum()
        return outputs, loss
