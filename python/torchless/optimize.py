"""torchless.optimize: a drop-in for "trace and compile" model optimizers (such as
BladeDISC's Hugging Face adapter). Give it a model — a directory, a cached Hugging Face id,
or a live transformers.PreTrainedModel — and call the result like the model's forward."""
from __future__ import annotations

import ctypes
import sys
from ctypes import POINTER, byref, c_float, c_void_p
from typing import Any, Optional

import numpy as np

from ._lib import TlTensorView, check, lib
from .model import Model

# transformers class-name suffix -> the task whose head it carries
_TASK_OF_CLASS = {"ForSequenceClassification": "text-classification",
                  "ForTokenClassification": "token-classification",
                  "ForQuestionAnswering": "question-answering", "ForMaskedLM": "fill-mask",
                  "ElectraForPreTraining": "replaced-token-detection"}
_HEAD_TASKS = set(_TASK_OF_CLASS.values())

_DTYPES = {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16",
           "torch.float64": "F64"}


def _from_live_model(model, num_threads: int) -> tuple[Model, list]:
    """Loads a torch PreTrainedModel's weights into libtorchless without copying fp32
    tensors; returns the Model and the tensors that must stay alive with it."""
    keep, views = [], []
    for name, t in model.state_dict().items():
        dtype = _DTYPES.get(str(t.dtype))
        if dtype is None:  # integer buffers such as position_ids
            continue
        if t.device.type != "cpu":
            raise ValueError(f"torchless.optimize: tensor '{name}' is on {t.device}; move the model to the CPU first")
        t = t.detach()
        if not t.is_contiguous():
            t = t.contiguous()
        shape = (ctypes.c_int64 * max(t.dim(), 1))(*t.shape)
        keep.extend([t, shape])
        views.append(TlTensorView(name.encode(), dtype.encode(), t.dim(), shape, c_void_p(t.data_ptr())))
    arr = (TlTensorView * max(len(views), 1))(*views)
    params = lib.tl_model_default_params()
    params.num_threads = num_threads
    params.load_tokenizer = 0
    handle = c_void_p()
    cfg = model.config.to_json_string()
    check(lib.tl_model_load_tensors(cfg.encode(), arr, len(views), byref(params), byref(handle)))
    import json

    return Model._from_handle(handle, json.loads(cfg)), keep


class _TaskHead:
    """Owns a tl_task_head: the model's head for one task, run on packed batches."""

    def __init__(self, model: Model, task: str, n_labels: int):
        h = c_void_p()
        check(lib.tl_task_head_create(model._h, task.encode(), n_labels, byref(h)))
        self._h, self.task = h, task
        self.width = lib.tl_task_head_width(h)
        self.per_token = bool(lib.tl_task_head_per_token(h))

    def run(self, rows_ids, types, mask, pos) -> list:
        """Per sequence: (len, width) rows, or a (width,) row for per-sequence heads."""
        batch, lens, _keep = Model._pack(rows_ids, types, mask, pos)
        n_rows = int(lens.sum()) if self.per_token else len(lens)
        out = np.empty((max(n_rows, 1), self.width), dtype=np.float32)
        check(lib.tl_task_head_forward(self._h, byref(batch), out.ctypes.data_as(POINTER(c_float)), out.size))
        if not self.per_token:
            return [out[i] for i in range(len(lens))]
        offs = np.concatenate([[0], np.cumsum(lens)]).astype(int)
        return [out[offs[i]:offs[i + 1]] for i in range(len(lens))]

    def __del__(self):
        if getattr(self, "_h", None):
            lib.tl_task_head_free(self._h)
            self._h = None


class ModelOutput(dict):
    """The outputs as transformers' ModelOutput gives them: a dict ("logits", ...) whose
    entries are also attributes (out.logits) and, in order, indices (out[0])."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return tuple(self.values())[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple:
        """The values in order, as ModelOutput.to_tuple()."""
        return tuple(self.values())


# The transformers output class each result is returned as when transformers is imported,
# so that its pipelines (which rebuild ModelOutput instances, and index them by position)
# treat it as a model's own output.
_HF_OUTPUT_CLASS = {"text-classification": "SequenceClassifierOutput",
                    "token-classification": "TokenClassifierOutput",
                    "question-answering": "QuestionAnsweringModelOutput", "fill-mask": "MaskedLMOutput",
                    "replaced-token-detection": "ModelOutput", None: "BaseModelOutput",
                    "feature-extraction": "BaseModelOutput"}

# forward() arguments of transformers models that torchless does not compute: an error when
# given (other than None / False), rather than silently ignored.
_UNSUPPORTED_ARGS = {"labels": "labels= (a loss) is not computed: torchless runs inference only",
                     "output_hidden_states": "output_hidden_states=True is not supported (only the last "
                                             "hidden state is computed)",
                     "output_attentions": "output_attentions=True is not supported (attention weights are "
                                          "not kept)",
                     "inputs_embeds": "inputs_embeds is not supported: pass input_ids",
                     "head_mask": "head_mask is not supported"}


def _output(task: Optional[str], named: dict):
    """named as transformers' output class for task when transformers is imported (it is
    a dict with attributes and integer indices), else as this module's ModelOutput."""
    tf = sys.modules.get("transformers")
    if tf is not None:
        try:
            import transformers.modeling_outputs as mo
            from transformers.utils import ModelOutput as HFModelOutput

            cls = getattr(mo, _HF_OUTPUT_CLASS.get(task, "ModelOutput"), HFModelOutput)
            return cls(**named) if cls is not HFModelOutput else HFModelOutput(named)
        except (ImportError, TypeError):
            pass
    return ModelOutput(named)


_NAMED_CLASSES: dict = {}


def _named(obj: "OptimizedModel", class_name: Optional[str]) -> "OptimizedModel":
    """Gives obj a subclass of OptimizedModel named after the wrapped transformers class
    (e.g. BertForSequenceClassification), so that transformers.pipeline's model-type check
    recognises it; isinstance(obj, OptimizedModel) still holds."""
    if class_name and class_name.isidentifier() and class_name != "OptimizedModel":
        if class_name not in _NAMED_CLASSES:
            _NAMED_CLASSES[class_name] = type(class_name, (OptimizedModel,), {"__module__": __name__})
        obj.__class__ = _NAMED_CLASSES[class_name]
    return obj


class OptimizedModel:
    """A callable with the model's forward signature (input_ids, attention_mask,
    token_type_ids, position_ids) returning what the transformers model returns:
    {"last_hidden_state"} for a base model, {"logits"} for classification, token
    classification and masked-LM heads, {"start_logits", "end_logits"} for question
    answering — torch tensors when given torch tensors, numpy arrays otherwise — as a
    ModelOutput-like dict (out["logits"], out.logits, out[0]).

    It also has what transformers.pipeline uses of a PreTrainedModel (config, device,
    dtype, to(), eval(), can_generate(), base_model_prefix), so it can be passed as
    transformers.pipeline(task, model=optimized, tokenizer=...)."""

    def __init__(self, model: Model, keep: Optional[list] = None, config=None, padding: str = "skip",
                 task: Optional[str] = None, n_labels: int = 0, source: Optional[str] = None,
                 base_model_prefix: str = "", revision: Optional[str] = None):
        if padding not in ("compute", "skip"):
            raise ValueError("padding must be 'compute' (outputs equal transformers' at every position) "
                             "or 'skip' (padding positions are not computed and returned as zeros)")
        self.model, self._keep, self._config, self.padding = model, keep or [], config, padding
        self.task, self._source, self._revision = task, source, revision
        self.name_or_path = source or getattr(config, "_name_or_path", "") or ""
        self.base_model_prefix = base_model_prefix or model.model_type.replace("-", "_")
        self._head = _TaskHead(model, task, n_labels) if task in _HEAD_TASKS else None

    # ---- enough of transformers.PreTrainedModel for transformers.pipeline(model=self) ----
    training = False
    generation_config = None
    input_modalities = "text"
    main_input_name = "input_ids"

    @property
    def config(self):
        """The transformers config: the live model's, or loaded from the directory / id with
        transformers.AutoConfig on first use (None when transformers is not installed)."""
        if self._config is None and self._source:
            try:
                from transformers import AutoConfig
            except ImportError:
                return None
            self._config = AutoConfig.from_pretrained(self.model.directory or self._source, revision=self._revision)
        return self._config

    @config.setter
    def config(self, value) -> None:
        self._config = value

    @property
    def device(self):
        """torch.device("cpu"): torchless runs on the CPU."""
        import torch

        return torch.device("cpu")

    @property
    def dtype(self):
        """torch.float32: the compute precision."""
        import torch

        return torch.float32

    def to(self, *args: Any, **kwargs: Any) -> "OptimizedModel":
        """Accepts the CPU (a no-op, as transformers.pipeline calls it); other devices are an error."""
        for a in list(args) + [kwargs.get("device")]:
            if a is None or str(a).startswith("torch."):  # no device, or a dtype
                continue
            dev = ("cpu" if a < 0 else f"cuda:{a}") if isinstance(a, int) else str(a)
            if dev.split(":")[0] != "cpu":
                raise ValueError(f"torchless.optimize: the model runs on the CPU only, not on {dev} "
                                 f"(pass device='cpu' or device=-1 to transformers.pipeline)")
        return self

    def eval(self) -> "OptimizedModel":
        """No-op (always in inference mode); returns self."""
        return self

    def can_generate(self) -> bool:
        """False: encoder models do not generate."""
        return False

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                 return_dict: bool = True, **unused: Any):
        for k, v in unused.items():
            if v is None or v is False or (k == "use_cache"):
                continue
            if k in _UNSUPPORTED_ARGS:
                raise ValueError(f"torchless.optimize: {_UNSUPPORTED_ARGS[k]}")
            raise TypeError(f"torchless.optimize: unexpected argument {k}= (not supported)")
        if input_ids is None:
            raise ValueError("torchless.optimize: input_ids is required (inputs_embeds is not supported)")
        as_torch = type(input_ids).__module__.startswith("torch")
        np_of = lambda x: None if x is None else np.asarray(x.cpu() if hasattr(x, "cpu") else x)
        ids = np_of(input_ids)
        if ids.ndim == 1:
            ids = ids[None, :]
        B, L = ids.shape
        mask, types, pos = (None if x is None else np_of(x).reshape(B, L)
                            for x in (attention_mask, token_type_ids, position_ids))
        run = self._head.run if self._head else self.model.forward
        width = self._head.width if self._head else self.model.hidden_size
        per_token = self._head.per_token if self._head else True
        if self.padding == "skip" and mask is not None:
            keep = [np.nonzero(mask[b])[0] for b in range(B)]
            pick = lambda a: None if a is None else [a[b, keep[b]] for b in range(B)]
            outs = run(pick(ids), pick(types), None, pick(pos))
            if per_token:
                result = np.zeros((B, L, width), dtype=np.float32)
                for b in range(B):
                    result[b, keep[b]] = outs[b]
            else:
                result = np.stack(outs) if B else np.zeros((0, width), np.float32)
        else:
            rows = lambda a: None if a is None else list(a)
            outs = run(rows(ids), rows(types), rows(mask), rows(pos))
            empty = (0, L, width) if per_token else (0, width)
            result = np.stack(outs) if B else np.zeros(empty, np.float32)
        if self.task == "question-answering":
            named = {"start_logits": np.ascontiguousarray(result[..., 0]),
                     "end_logits": np.ascontiguousarray(result[..., 1])}
        elif self.task == "replaced-token-detection":  # one logit per token, squeezed as ELECTRA does
            named = {"logits": np.ascontiguousarray(result[..., 0])}
        elif self._head:
            named = {"logits": result}
        else:
            named = {"last_hidden_state": result}
        if as_torch:
            import torch

            named = {k: torch.from_numpy(v) for k, v in named.items()}
        return _output(self.task, named) if return_dict else tuple(named.values())

    forward = __call__


def _task_of(architectures) -> Optional[str]:
    """The head task of a transformers class name (e.g. BertForMaskedLM -> fill-mask)."""
    for arch in architectures or []:
        for suffix, task in _TASK_OF_CLASS.items():
            if str(arch).endswith(suffix):
                return task
    return None


def optimize(task: Optional[str] = None, model=None, *, num_threads: int = 0,
             padding: str = "skip", revision: Optional[str] = None) -> OptimizedModel:
    """Returns an OptimizedModel running `model` on libtorchless.

    model: a model directory, a Hugging Face id in the local cache, or a live
    transformers.PreTrainedModel (its fp32 weights are used in place, not copied).
    task: "text-classification", "token-classification", "question-answering",
    "fill-mask", "replaced-token-detection" (ElectraForPreTraining) — the model's head,
    returning logits — "feature-extraction" (the encoder's last_hidden_state), or None:
    inferred from the model's class / config.architectures.
    padding: "skip" (default) never computes padding positions (attention_mask 0): they
    are returned as zeros, and every real position equals transformers'; "compute" also
    computes the padding positions, as transformers does, at the cost of that work.
    revision: a branch, tag or commit of a cached model id.
    The result also works as transformers.pipeline(task, model=result, tokenizer=...)."""
    if model is None:
        raise ValueError("torchless.optimize: pass model= (a directory, a cached model id, or a "
                         "transformers PreTrainedModel)")
    if task not in (None, "feature-extraction") and task not in _HEAD_TASKS:
        raise ValueError(f"torchless.optimize: task {task!r} has no logits head; use one of "
                         f"{sorted(_HEAD_TASKS)} or feature-extraction (for text in, results out, "
                         f"see torchless.pipeline)")
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        import json
        from pathlib import Path

        tl_model = Model(str(model), num_threads=num_threads, load_tokenizer=False, revision=revision)
        cfg_path = Path(tl_model.directory or str(model)) / "config.json"
        cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        task = task or _task_of(cfg.get("architectures"))
        n_labels = len(cfg.get("id2label") or {}) or int(cfg.get("num_labels", 2))
        opt = OptimizedModel(tl_model, padding=padding, task=task, n_labels=n_labels, source=str(model),
                             revision=revision)
        return _named(opt, (cfg.get("architectures") or [None])[0] if task in _HEAD_TASKS else None)
    if hasattr(model, "state_dict") and hasattr(model, "config"):
        if revision not in (None, "main"):
            raise ValueError("torchless.optimize: revision= applies to a model id, not to a live model")
        tl_model, keep = _from_live_model(model, num_threads)
        task = task or _task_of([type(model).__name__])
        opt = OptimizedModel(tl_model, keep, config=model.config, padding=padding, task=task,
                             n_labels=int(getattr(model.config, "num_labels", 2)),
                             base_model_prefix=getattr(model, "base_model_prefix", ""))
        return _named(opt, type(model).__name__ if task in _HEAD_TASKS or not task else None)
    raise TypeError(f"torchless.optimize: unsupported model of type {type(model).__name__}")
