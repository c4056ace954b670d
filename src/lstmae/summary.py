"""A Keras-style summary of an `Autoencoder` or `Classifier` module: layers, shapes, parameters.

`summarize(module, seq_len=None)` lists the layers in data-flow order with the shape of
what goes in and comes out of each and its trainable parameter count, the options that
shape the graph, and notes on what the table cannot show (the state bridge, teacher
forcing, reversed targets). The shapes are not derived by hand: they are recorded with
forward hooks while the module runs on a tiny batch of zeros, so they are right for every
option combination. The batch is run two or three times with different sizes, which tells
the batch dimension (printed ``N``) and, when ``seq_len`` is None, the time dimension
(printed ``L``) apart from the others.

`lstmae.plotting.plot_model` draws the same information as a diagram.
"""
from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .cells import LoopLSTM
from .modules import Autoencoder, Classifier

__all__ = ["LayerRow", "ModelSummary", "summarize"]

# dummy batch sizes: two batch sizes tell the batch dimension apart, two lengths the time one
_N = (2, 3)
_SYMBOLIC_STEPS = 5

DECODERS = (("reconstructor", "reconstruction"), ("predictor", "forecast"))

POOLING_TEXT = {
    "last": "the code",
    "last_hc": "final (h, c) of every layer and direction",
    "mean": "mean of the top layer's outputs over the valid steps",
    "all": "final (h, c) of every layer, mean and max of the top layer's outputs",
}


@dataclass(frozen=True)
class LayerRow:
    """One step of the model: a submodule, or a parameter-free step such as RepeatVector.

    ``params`` counts the submodule's trainable parameters; ``frozen_params`` the ones
    that are not trained (a classifier's frozen encoder).
    """

    name: str
    layer: str
    input_shape: str
    output_shape: str
    params: int = 0
    frozen_params: int = 0


@dataclass(repr=False)
class ModelSummary:
    """What `summarize` returns; ``print(summary)`` shows the table (`to_string`).

    Attributes
    ----------
    kind : "autoencoder" or "classifier"
    rows : the layers in data-flow order (`LayerRow`)
    options : the options that shape the graph (task, bridge, sizes, pooling, ...)
    total_params, trainable_params : parameter counts of the whole module
    notes : what the table does not show (the bridge, teacher forcing, reversal, ...)
    shapes : shape of every named tensor of the forward pass, e.g. ``"input"``,
        ``"code"``, ``"encoder.state"`` (h_n), ``"reconstructor.h0"``, ``"reconstruction"``,
        ``"forecast"``, ``"features"``, ``"proba"``: what `plot_model` writes on its arrows
    seq_len : the sequence length the shapes are for (None: printed as ``L``)
    """

    kind: str
    rows: list[LayerRow]
    options: dict[str, Any]
    total_params: int
    trainable_params: int
    notes: list[str] = field(default_factory=list)
    shapes: dict[str, str] = field(default_factory=dict)
    seq_len: int | None = None

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def copied_state(self) -> bool:
        """True when the decoders start from the encoder's own final (h, c) (bridge "state", no map)."""
        return (self.kind == "autoencoder" and self.options["bridge"] == "state"
                and not any(r.name.endswith(".init_state") for r in self.rows))

    def row(self, name: str) -> LayerRow | None:
        """The row called `name`, or None."""
        return next((r for r in self.rows if r.name == name), None)

    def title(self) -> str:
        o = self.options
        if self.kind == "classifier":
            return f"Classifier: LSTM encoder, pooling {o['pooling']!r}, {o['n_classes']} classes"
        extras = [f"bridge {o['bridge']!r}"]
        extras += [name for name in ("conditional", "reverse", "bidirectional") if o[name]]
        horizon = f" (horizon {o['horizon']})" if o.get("horizon") is not None else ""
        return f"Autoencoder: task {o['task']!r}{horizon}, " + ", ".join(extras)

    def to_frame(self):
        """The rows as a pandas DataFrame: name, layer, input_shape, output_shape, params, frozen_params."""
        import pandas as pd

        columns = [f.name for f in dataclasses.fields(LayerRow)]
        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows], columns=columns)

    def to_string(self, width: int | None = None) -> str:
        """A fixed-width table like Keras' ``model.summary()``, then totals, options and notes."""
        header = ("Layer", "Type", "Input shape", "Output shape", "Param #")
        cells = [
            (r.name, r.layer, r.input_shape, r.output_shape,
             f"{r.params:,}" + (f" (+{r.frozen_params:,} frozen)" if r.frozen_params else ""))
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]

        def line(row: tuple[str, ...]) -> str:
            parts = [row[i].ljust(widths[i]) for i in range(4)] + [row[4].rjust(widths[4])]
            return "  ".join(parts).rstrip()

        table_width = sum(widths) + 2 * (len(widths) - 1)
        width = max(width or table_width, 60)
        out = [self.title(), f"input: {self.shapes.get('input', '?')}  (N = batch size"
               + (", L = sequence length)" if self.seq_len is None else ")"),
               "_" * width, line(header), "=" * width]
        out += [line(c) for c in cells]
        out += ["=" * width, f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}", "_" * width]
        items = [f"{k}={v}" for k, v in self.options.items()]
        lines = ["Options:"]
        for item in items:  # break between options, never inside one
            if len(lines[-1]) + len(item) + 2 > width:
                lines[-1] += ","
                lines.append("  " + item)
            else:
                lines[-1] += (" " if lines[-1] == "Options:" else ", ") + item
        out += lines
        if self.notes:
            out.append("Notes:")
            for note in self.notes:
                out += textwrap.wrap(note, width=width, initial_indent="  - ", subsequent_indent="    ")
        return "\n".join(out)

    __str__ = to_string

    def __repr__(self) -> str:  # notebooks show the table
        return self.to_string()


# --- tracing ----------------------------------------------------------------------------------
def _shape_tree(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return tuple(obj.shape)
    if isinstance(obj, (tuple, list)):
        return tuple(_shape_tree(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _shape_tree(v) for k, v in obj.items()}
    return None


def _hooked_names(module: nn.Module) -> list[str]:
    names = ["encoder", "encoder.lstm", "encoder.bottleneck", "code_dropout", "head"]
    for dec, _ in DECODERS:
        names += [dec, f"{dec}.lstm", f"{dec}.init_state", f"{dec}.head"]
    present = dict(module.named_modules())
    return [n for n in names if present.get(n) is not None]


def _trace(module: nn.Module, n: int, steps: int) -> dict[str, tuple]:
    """Shapes of the named tensors of one forward pass of `module` on zeros (n, steps, F)."""
    cfg = module.cfg
    ref = next(module.parameters())
    zeros = dict(dtype=ref.dtype, device=ref.device)
    batch = {"x": torch.zeros(n, steps, cfg.n_features, **zeros)}
    if isinstance(module, Autoencoder) and cfg.has_prediction:
        batch["future"] = torch.zeros(n, cfg.horizon, cfg.n_features, **zeros)
    calls: dict[str, tuple] = {}
    modules = dict(module.named_modules())

    def recorder(name: str):
        def hook(_mod, args, output):
            calls.setdefault(name, (_shape_tree(args), _shape_tree(output)))
        return hook

    handles = [modules[name].register_forward_hook(recorder(name)) for name in _hooked_names(module)]
    modes = {m: m.training for m in module.modules()}
    # training mode: a conditional decoder is then teacher-forced and runs its LSTM once over
    # all steps (at inference it runs one step at a time); the dropout it enables draws from a
    # forked random generator, so summarizing does not change the caller's random stream
    devices = [ref.device.index or 0] if ref.device.type == "cuda" else []
    try:
        module.train()
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            outputs, _ = module(batch)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes.items():
            m.training = mode

    shapes: dict[str, tuple] = {"input": batch["x"].shape}
    lstm_args, (lstm_out, (h_n, c_n)) = calls["encoder.lstm"]
    shapes.update({"encoder.lstm.in": lstm_args[0], "encoder.lstm.out": lstm_out, "encoder.state": h_n})
    code = calls["encoder"][1][0]
    shapes["encoder.final_h"] = calls["encoder.bottleneck"][0][0] if "encoder.bottleneck" in calls else code
    shapes["code"] = code
    if "encoder.bottleneck" in calls:
        shapes["encoder.bottleneck.out"] = calls["encoder.bottleneck"][1]
    if "code_dropout" in calls:
        shapes["code_dropout.in"], shapes["code_dropout.out"] = calls["code_dropout"][0][0], calls["code_dropout"][1]
    for dec, _ in DECODERS:
        if dec not in calls:
            continue
        shapes[f"{dec}.code"] = calls[dec][0][0]
        args, out = calls[f"{dec}.lstm"]
        shapes[f"{dec}.lstm.in"], shapes[f"{dec}.lstm.out"] = args[0], out[0]
        if len(args) > 1 and args[1] is not None:
            shapes[f"{dec}.h0"] = args[1][0]
        for part in ("init_state", "head"):
            if f"{dec}.{part}" in calls:
                args, out = calls[f"{dec}.{part}"]
                shapes[f"{dec}.{part}.in"], shapes[f"{dec}.{part}.out"] = args[0], out
    if "head" in calls:
        shapes["head.in"], shapes["head.out"] = calls["head"][0][0], calls["head"][1]
    for key in ("code", "features", "reconstruction", "forecast", "logits", "proba"):
        if key in outputs:
            shapes[key] = _shape_tree(outputs[key])
    return {k: tuple(v) for k, v in shapes.items()}


def _symbolic(runs: list[dict[str, tuple]], seq_len: int | None) -> dict[str, str]:
    """Shapes as strings, the batch dimension as N and (seq_len None) the time one as L.

    runs[0] and runs[1] differ in batch size only, runs[2] (if any) in length only.
    """
    base = runs[0]
    out = {}
    for key, dims in base.items():
        text = []
        for i, d in enumerate(dims):
            if runs[1][key][i] != d:
                text.append("N")
            elif len(runs) > 2 and runs[2][key][i] != d:
                offset = d - _SYMBOLIC_STEPS
                text.append("L" if offset == 0 else f"L{offset:+d}")
            else:
                text.append(str(d))
        out[key] = "(" + ", ".join(text) + ("," if len(text) == 1 else "") + ")"
    return out


# --- rows -------------------------------------------------------------------------------------
def _describe(m: nn.Module) -> str:
    if isinstance(m, (nn.LSTM, LoopLSTM)):
        parts = [f"{m.num_layers} layer" + ("s" if m.num_layers > 1 else "")]
        if m.bidirectional:
            parts.append("bidirectional")
        if isinstance(m, LoopLSTM):
            if m.activation != "tanh":
                parts.append(m.activation)
            if m.cell_clip is not None:
                parts.append(f"cell clip {m.cell_clip:g}")
        if m.num_layers > 1 and m.dropout > 0:
            parts.append(f"dropout {m.dropout:g}")
        return f"LSTM({m.input_size} -> {m.hidden_size}, " + ", ".join(parts) + ")"
    if isinstance(m, nn.Linear):
        return f"Linear({m.in_features} -> {m.out_features})"
    if isinstance(m, nn.Dropout):
        return f"Dropout({m.p:g})"
    return type(m).__name__


def _counts(m: nn.Module | None) -> tuple[int, int]:
    if m is None:
        return 0, 0
    trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in m.parameters()) - trainable


def summarize(module: nn.Module, seq_len: int | None = None) -> ModelSummary:
    """Summary of an `Autoencoder` or `Classifier` module (see `ModelSummary`).

    Parameters
    ----------
    module : `lstmae.modules.Autoencoder` or `lstmae.modules.Classifier`
    seq_len : sequence length to show in the shapes; None prints it as ``L`` (the model
        takes any length). A forecast's horizon ``K`` is always concrete.

    The module runs (without gradients) on a few batches of zeros on its own device; its
    weights, train/eval mode and the global random state are left as they were.
    """
    if not isinstance(module, (Autoencoder, Classifier)):
        raise TypeError(
            f"summarize takes an lstmae Autoencoder or Classifier module, got {type(module).__name__}."
        )
    if seq_len is not None and (isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1):
        raise ValueError(f"seq_len={seq_len!r} is not valid; give an integer >= 1, or None.")
    steps = seq_len if seq_len is not None else _SYMBOLIC_STEPS
    runs = [_trace(module, _N[0], steps), _trace(module, _N[1], steps)]
    if seq_len is None:
        runs.append(_trace(module, _N[0], steps + 1))
    shapes = _symbolic(runs, seq_len)
    cfg = module.cfg
    modules = dict(module.named_modules())
    rows: list[LayerRow] = []

    def add(name: str, layer: str | None, inp: str, out: str, sub: str | None = None) -> None:
        m = modules.get(sub or name)
        params, frozen = _counts(m)
        rows.append(LayerRow(name, layer or _describe(m), inp, out, params, frozen))

    classifier = isinstance(module, Classifier)
    add("encoder.lstm", None, shapes["encoder.lstm.in"], shapes["encoder.lstm.out"])
    both = " (both directions)" if cfg.bidirectional else ""
    add("encoder.final_h", f"final h, top layer{both}", shapes["encoder.state"], shapes["encoder.final_h"], "")
    if module.encoder.bottleneck is not None:
        add("encoder.bottleneck", None, shapes["encoder.final_h"], shapes["encoder.bottleneck.out"])
    if classifier:
        if cfg.pooling != "last":
            source = shapes["encoder.lstm.out"] if cfg.pooling == "mean" else "2 x " + shapes["encoder.state"]
            add("pooling", f"pooling {cfg.pooling!r}", source, shapes["features"], "")
        if cfg.dropout > 0:
            add("code_dropout", None, shapes["code_dropout.in"], shapes["code_dropout.out"])
        add("head", _describe(module.head) + " + softmax", shapes["head.in"], shapes["head.out"])
    else:
        if cfg.dropout > 0:
            add("code_dropout", None, shapes["code_dropout.in"], shapes["code_dropout.out"])
        for dec, _ in DECODERS:
            if getattr(module, dec) is None:
                continue
            if f"{dec}.init_state.in" in shapes:
                add(f"{dec}.init_state", None, shapes[f"{dec}.init_state.in"], shapes[f"{dec}.init_state.out"])
            if cfg.bridge == "repeat":
                lstm_in = shapes[f"{dec}.lstm.in"].strip("()").split(", ")
                code = shapes[f"{dec}.code"].strip("()").split(", ")
                repeated = f"({lstm_in[0]}, {lstm_in[1]}, {code[1]})"
                add(f"{dec}.repeat", f"RepeatVector({lstm_in[1]})", shapes[f"{dec}.code"], repeated, "")
            add(f"{dec}.lstm", None, shapes[f"{dec}.lstm.in"], shapes[f"{dec}.lstm.out"])
            sigmoid = " + sigmoid" if cfg.loss == "bce" else ""
            add(f"{dec}.head", _describe(getattr(module, dec).head) + sigmoid,
                shapes[f"{dec}.head.in"], shapes[f"{dec}.head.out"])

    _check_coverage(module, rows, modules)
    trainable, frozen = _counts(module)
    summary = ModelSummary(
        kind="classifier" if classifier else "autoencoder",
        rows=rows,
        options=_options(module),
        total_params=trainable + frozen,
        trainable_params=trainable,
        shapes=shapes,
        seq_len=seq_len,
    )
    summary.notes = _classifier_notes(module, shapes) if classifier else _autoencoder_notes(cfg, summary)
    return summary


def _check_coverage(module: nn.Module, rows: list[LayerRow], modules: dict[str, nn.Module]) -> None:
    """Every parameter of `module` is counted in exactly one row."""
    counted = [p for r in rows if modules.get(r.name) is not None for p in modules[r.name].parameters()]
    ids = {id(p) for p in counted}
    missed = [name for name, p in module.named_parameters() if id(p) not in ids]
    if missed or len(ids) != len(counted):
        raise AssertionError(f"summary rows miss or double-count parameters: {missed}")
    assert sum(r.params for r in rows) == sum(p.numel() for p in module.parameters() if p.requires_grad)


def _options(module: nn.Module) -> dict[str, Any]:
    cfg = module.cfg
    o: dict[str, Any] = {}
    if isinstance(module, Autoencoder):
        o["task"] = cfg.task
        o["horizon"] = cfg.horizon if cfg.has_prediction else None
        o.update(bridge=cfg.bridge, conditional=cfg.conditional, teacher_forcing=cfg.teacher_forcing,
                 reverse=cfg.reverse)
    o.update(n_features=cfg.n_features, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
             bidirectional=cfg.bidirectional, code_size=cfg.code_size, latent_dim=cfg.latent_dim,
             pooling=cfg.pooling, activation=cfg.activation, dropout=cfg.dropout)
    if cfg.cell_clip is not None:
        o["cell_clip"] = cfg.cell_clip
    if cfg.input_noise:
        o["input_noise"] = cfg.input_noise
    if isinstance(module, Autoencoder):
        o.update(loss=cfg.loss, output="sigmoid" if cfg.loss == "bce" else "linear")
        if cfg.task == "composite":
            o["loss_weights"] = cfg.loss_weights
    else:
        o.update(n_classes=module.head.out_features, freeze_encoder=module.freeze_encoder, output="softmax")
    return {k: v for k, v in o.items() if v is not None or k == "code_size"}


def _autoencoder_notes(cfg, summary: ModelSummary) -> list[str]:
    shapes = summary.shapes
    notes = []
    frame = " and the previous frame" if cfg.conditional else ""
    if cfg.bridge == "repeat":
        notes.append(f"decoder input at each step: the code repeated (RepeatVector){frame}; "
                     "the decoder LSTM starts from zeros")
    else:
        if summary.copied_state:
            notes.append("decoder starts from the encoder's final (h, c) of every layer (copied state)")
        else:
            why = "the bottleneck" if cfg.code_size is not None else "the bidirectional encoder"
            notes.append(f"decoder starts from (h0, c0) = init_state(code), tanh on h0: a learned map "
                         f"(because of {why}), so the code is the only path from encoder to decoder")
        notes.append("decoder input at each step: the previous frame" if cfg.conditional
                     else "decoder input at each step: a constant zero (the state carries the code)")
    if cfg.conditional:
        first = {"reconstruct": "zeros", "predict": "the last input frame",
                 "composite": "zeros (reconstruction), the last input frame (prediction)"}[cfg.task]
        when = ("teacher forcing in training, own output at inference" if cfg.teacher_forcing == "train" else
                "the true previous frame in training and at inference for the reconstruction; forecasts run on "
                "their own output")
        notes.append(f"conditional: fed the previous frame ({when}); before the first step: {first}")
    if cfg.reverse:
        notes.append("reconstruction target reversed; outputs returned in natural order")
    if cfg.task == "composite":
        w_rec, w_pred = cfg.loss_weights
        notes.append(f"composite: both decoders start from the same encoding; loss = {w_rec:g} x reconstruction "
                     f"+ {w_pred:g} x prediction")
    if cfg.loss == "bce":
        notes.append("outputs: sigmoid of the head (loss 'bce'); the loss reads the logits")
    if cfg.dropout > 0:
        where = ("on the code (which the decoders do not read: they start from the copied state)"
                 if summary.copied_state
                 else "on the code the decoders read")
        notes.append(f"dropout {cfg.dropout:g} {where}" + (" and between LSTM layers" if cfg.num_layers > 1 else "")
                     + " (training only)")
    notes.append(f"transform returns the features {shapes['features']}: pooling {cfg.pooling!r}, "
                 + POOLING_TEXT[cfg.pooling])
    return notes


def _classifier_notes(module: Classifier, shapes: dict[str, str]) -> list[str]:
    cfg = module.cfg
    notes = [f"features {shapes['features']}: pooling {cfg.pooling!r}, {POOLING_TEXT[cfg.pooling]}"]
    if cfg.code_size is not None and cfg.pooling != "last":
        notes.append(f"the bottleneck is computed but not read by pooling {cfg.pooling!r}")
    if module.freeze_encoder:
        notes.append("encoder frozen (a linear probe): only the head trains")
    notes.append(f"head outputs logits {shapes['logits']}; softmax gives the class probabilities")
    return notes
