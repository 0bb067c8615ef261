"""torchless.pipeline: a drop-in for ``transformers.pipeline`` on the tasks torchless runs
in C (text-classification, token-classification, question-answering, fill-mask,
zero-shot-classification, feature-extraction, sentence-embedding, text-generation), with the same inputs
and the same plain-Python results, and no PyTorch underneath; plus the sentence-transformers
tasks text-pair-scoring (``CrossEncoder.predict``), text-ranking (``CrossEncoder.rank``)
and sentence-similarity (``SentenceTransformer.similarity``)."""
from __future__ import annotations

import ctypes
import json
import os
import warnings
from ctypes import byref, c_void_p
from typing import Any, Optional, Union

from . import hub
from ._lib import TEXT_FN, check, invalid_input, lib, pipeline_task_aliases, pipeline_tasks
from .model import Model

# The tasks and transformers' task aliases, as the C library's table has them.
TASKS = pipeline_tasks()
TASK_ALIASES = pipeline_task_aliases()

# transformers' default checkpoints per task, looked up in the local Hugging Face cache
# when pipeline() gets a task and no model (nothing is downloaded).
DEFAULT_MODELS = {
    "text-classification": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    "token-classification": "dbmdz/bert-large-cased-finetuned-conll03-english",
    "question-answering": "distilbert/distilbert-base-cased-distilled-squad",
    "fill-mask": "distilbert/distilroberta-base",
    "zero-shot-classification": "facebook/bart-large-mnli",
    "feature-extraction": "distilbert/distilbert-base-cased",
    "sentence-embedding": "sentence-transformers/all-MiniLM-L6-v2",
    "sentence-similarity": "sentence-transformers/all-MiniLM-L6-v2",
    "text-pair-scoring": "cross-encoder/ms-marco-MiniLM-L6-v2",
    "text-ranking": "cross-encoder/ms-marco-MiniLM-L6-v2",
    "text-generation": "openai-community/gpt2",
}

# Arguments transformers.pipeline accepts that do not change results here.
_IGNORED = {"device", "device_map", "dtype", "torch_dtype", "framework", "use_fast",
            "token", "trust_remote_code", "model_kwargs", "config", "batch_size", "num_workers"}


def _jsonable(x: Any) -> Any:
    """Turns tuples / generators into lists so the inputs serialise as transformers sees them."""
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "__iter__"):
        return [_jsonable(v) for v in x]
    return x


# Tasks whose input is two parts, also accepted as two arguments: (first, second).
_TWO_PART = {"text-ranking": ("query", "documents"), "sentence-similarity": ("source_sentence", "sentences")}


class Pipeline:
    """A task pipeline over a torchless model; call it like the transformers pipeline."""

    def __init__(self, task: Optional[str], model: Model, options: dict, owns_model: bool):
        self.model = model
        self._owns_model = owns_model
        handle = c_void_p()
        opts = json.dumps(options).encode() if options else None
        t = TASK_ALIASES.get(task, task) if task else None
        check(lib.tl_pipeline_create(model._h, t.encode() if t else None, opts, byref(handle)))
        self._h = handle
        self.task = lib.tl_pipeline_task(handle).decode()
        self._tokenizer = None
        if self.task == "zero-shot-classification":
            _warn_without_entailment(model)

    @property
    def tokenizer(self):
        """The model's tokenizer as a torchless.Tokenizer (loaded from the model's directory
        on first use; None for a model without one)."""
        if self._tokenizer is None and self.model.directory:
            from .tokenizer import Tokenizer

            self._tokenizer = Tokenizer(self.model.directory)
        return self._tokenizer

    def close(self) -> None:
        """Frees the C pipeline (and the model when the pipeline loaded it)."""
        if getattr(self, "_h", None):
            lib.tl_pipeline_free(self._h)
            self._h = None
        if getattr(self, "_owns_model", False) and self.model is not None:
            self.model.close()
            self._owns_model = False

    def __del__(self):
        self.close()

    def __call__(self, inputs: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Runs the task: a string, a list of strings, or the task's dict inputs
        ({"text", "text_pair"}, {"question", "context"}); parameters as transformers names
        them (top_k, aggregation_strategy, candidate_labels, ...). batch_size is accepted.
        text-generation also takes on_text(index, text): called with each input's new text
        as it is generated (a true return ends that input's generation).
        text-ranking also takes (query, documents) and sentence-similarity
        (source_sentence, sentences) as two arguments."""
        for k in ("batch_size", "num_workers"):
            kwargs.pop(k, None)
        return_tensors = kwargs.pop("return_tensors", False) if self.task == "feature-extraction" else False
        if self.task == "zero-shot-classification" and args:
            if len(args) != 1 or "candidate_labels" in kwargs:
                raise ValueError(f"Unable to understand extra arguments {args}")
            kwargs["candidate_labels"] = args[0]
        elif self.task in _TWO_PART and (args or _TWO_PART[self.task][1] in kwargs):
            # rank(query, documents) / similarity(source_sentence, sentences)
            first, second = _TWO_PART[self.task]
            if inputs is None:
                inputs = kwargs.pop(first, None)
            rest = list(args) + ([kwargs.pop(second)] if second in kwargs else [])
            if len(rest) != 1 or not isinstance(inputs, str):
                raise TypeError(f"{self.task}: call with ({first}, {second}) or {{{first!r}: ..., {second!r}: [...]}}")
            inputs = {first: inputs, second: list(rest[0])}
        elif args:
            raise TypeError(f"unexpected positional arguments {args}")
        if self.task == "question-answering":
            if inputs is None and "question" in kwargs:
                inputs = {"question": kwargs.pop("question"), "context": kwargs.pop("context", None)}
            elif isinstance(inputs, str) and "context" in kwargs:
                inputs = {"question": inputs, "context": kwargs.pop("context")}
        if inputs is None:
            for key in ("inputs", "sequences", "text", "text_inputs"):
                if key in kwargs:
                    inputs = kwargs.pop(key)
                    break
        payload = json.dumps(_jsonable(inputs), ensure_ascii=False).encode("utf-8", "surrogatepass")
        on_text = kwargs.pop("on_text", None) if self.task == "text-generation" else None
        params = json.dumps(_jsonable(kwargs)).encode() if kwargs else None
        out = c_void_p()
        if on_text is None:
            check(lib.tl_pipeline_run(self._h, payload, params, byref(out)))
        else:
            errors = []

            def piece(_user, index, text, n):
                try:
                    return 1 if on_text(int(index), ctypes.string_at(text, n).decode("utf-8", "replace")) else 0
                except BaseException as e:  # noqa: BLE001 - re-raised after the call
                    errors.append(e)
                    return 1
            cb = TEXT_FN(piece)
            status = lib.tl_pipeline_run_stream(self._h, payload, params, cb, None, byref(out))
            if errors:
                if out.value:
                    lib.tl_free(out)
                raise errors[0]
            check(status)
        try:
            result = json.loads(ctypes.string_at(out.value).decode("utf-8"))
        finally:
            lib.tl_free(out)
        if return_tensors:  # transformers: a (1, tokens, hidden) torch tensor per text
            import torch

            if isinstance(inputs, str):
                return torch.tensor(result, dtype=torch.float32)
            return [torch.tensor(r, dtype=torch.float32) for r in result]
        return result


def _warn_without_entailment(model: Model) -> None:
    """Warns, as transformers' ZeroShotClassificationPipeline does, when the model's label2id
    has no label starting with "entail" (the last label is then taken as entailment)."""
    cfg = model.config
    label2id = getattr(cfg, "label2id", None) or {}
    if not any(str(k).lower().startswith("entail") for k in label2id):
        warnings.warn("Failed to determine 'entailment' label id from the label2id mapping in the model "
                      "config. Setting to -1. Define a descriptive label2id mapping in the model config to "
                      "ensure correct outputs.", UserWarning, stacklevel=3)


def _model_of(model: Any, revision: Optional[str], num_threads: int, **load: Any) -> tuple:
    """(torchless.Model, owned) for pipeline()'s model argument: a path or id (loaded here),
    a torchless.Model, or a torchless.optimize() result made from a directory or id (its
    directory is loaded again, with its tokenizer). A live transformers model is refused
    with what to pass instead."""
    from .optimize import OptimizedModel

    if isinstance(model, Model):
        return model, False
    if isinstance(model, OptimizedModel):
        if model._source:
            return Model(model._source, num_threads=num_threads, revision=model._revision, **load), True
        model = model.config  # made from a live model: say what to pass, below
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        return Model(os.fsdecode(model), num_threads=num_threads, revision=revision, **load), True
    if hasattr(model, "state_dict") or hasattr(model, "to_json_string"):
        name = getattr(getattr(model, "config", model), "_name_or_path", "") or getattr(model, "name_or_path", "")
        hint = f" (here model={name!r})" if name else ""
        raise TypeError("torchless.pipeline runs models it loads itself, with their tokenizer: pass model= a "
                        f"directory or a cached Hugging Face id{hint}, or a torchless.Model. To run a live "
                        "transformers model on torchless, use transformers.pipeline(task, "
                        "model=torchless.optimize(model=live_model), tokenizer=tokenizer)")
    raise TypeError(f"torchless.pipeline: model= must be a directory, a cached Hugging Face id, a "
                    f"torchless.Model or a torchless.optimize() result, not {type(model).__name__}")


def _check_tokenizer(tokenizer: Any, model: Model) -> None:
    """Accepts tokenizer= only when it is the model's own (None, the same path or id, or a
    tokenizer object loaded from the model's directory); raises otherwise."""
    if tokenizer is None:
        return
    if isinstance(tokenizer, (str, bytes)) or hasattr(tokenizer, "__fspath__"):
        name = os.fsdecode(tokenizer)
    else:
        name = str(getattr(tokenizer, "name_or_path", "") or "")
    same = bool(name) and (name == model.name_or_path or
                           (hub.model_dir(name) is not None and str(hub.model_dir(name)) == model.directory))
    if not same:
        raise invalid_input(f"torchless.pipeline uses the tokenizer saved beside the model; tokenizer= "
                            f"({name or type(tokenizer).__name__}) is not the model's "
                            f"({model.name_or_path or 'a model without a directory'}): pass no tokenizer, "
                            f"or the model's own directory or id")


def pipeline(task: Optional[str] = None, model: Union[str, Model, None] = None,
             tokenizer: Any = None, **kwargs: Any) -> Pipeline:
    """Drop-in for ``transformers.pipeline(task, model, tokenizer, **kwargs)``.

    ``model`` is a directory, a Hugging Face id in the local cache (``revision`` picks a
    branch, tag or commit of it), a ``torchless.Model``, or a ``torchless.optimize()`` result
    made from a directory or id; without it the task's default checkpoint is taken from the
    cache. Without ``task`` the task is inferred from config.json ``architectures``.
    ``tokenizer`` may only be the model's own tokenizer (the one beside the weights). Other
    keyword arguments are the task's parameters (``top_k``, ``aggregation_strategy``, ...)
    applied to every call; ``num_threads`` sets the worker threads; ``precision`` ("fp32",
    "bf16", "int8", "auto") and ``check_accuracy`` are the Model's (for a model it loads);
    device / dtype / batch_size are accepted and do not change results."""
    if task is None and model is None:
        raise ValueError("give a task, a model, or both")
    num_threads = int(kwargs.pop("num_threads", 0) or 0)
    revision = kwargs.pop("revision", None)
    load = {k: kwargs.pop(k) for k in ("precision", "check_accuracy") if k in kwargs}
    for k in _IGNORED:
        kwargs.pop(k, None)
    if model is None:
        t = TASK_ALIASES.get(task, task)
        if t not in DEFAULT_MODELS:
            raise KeyError(f"unknown task '{task}'; torchless supports {sorted(TASKS)}")
        model = DEFAULT_MODELS[t]
    model, owns = _model_of(model, revision, num_threads, **load)
    try:
        _check_tokenizer(tokenizer, model)
        return Pipeline(task, model, kwargs, owns)
    except BaseException:
        if owns:
            model.close()
        raise
