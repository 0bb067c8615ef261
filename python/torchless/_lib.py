"""ctypes binding to libtorchless.so: loads the library and declares every function of
include/torchless.h. Higher-level wrappers live in the other modules of this package."""
from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_char_p, c_float, c_int, c_int32, c_size_t, c_void_p
from pathlib import Path


class TorchlessError(RuntimeError):
    """An error reported by libtorchless; .status holds the tl_status name. Errors about the
    caller's input (TL_ERR_INVALID_ARG, TL_ERR_FORMAT, TL_ERR_UNSUPPORTED) are also
    ValueErrors, as transformers' are; a missing or unreadable file (TL_ERR_IO) is also an
    OSError."""

    def __init__(self, status: str, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class TorchlessInputError(TorchlessError, ValueError):
    """A TorchlessError about invalid input: also a ValueError."""


class TorchlessIOError(TorchlessError, OSError):
    """A TorchlessError about a missing or unreadable file: also an OSError."""


class TorchlessNumericError(TorchlessError, FloatingPointError):
    """A forward pass computed NaN or Inf (TL_ERR_NUMERIC): also a FloatingPointError."""


_ERROR_CLASS = {"TL_ERR_NUMERIC": TorchlessNumericError,"TL_ERR_INVALID_ARG": TorchlessInputError, "TL_ERR_FORMAT": TorchlessInputError,
                "TL_ERR_UNSUPPORTED": TorchlessInputError, "TL_ERR_IO": TorchlessIOError}


def invalid_input(message: str) -> TorchlessError:
    """The error to raise for invalid input found on the Python side (a TorchlessError and a
    ValueError, with status TL_ERR_INVALID_ARG)."""
    return TorchlessInputError("TL_ERR_INVALID_ARG", message)


def _find_library() -> str:
    """Returns the path of libtorchless.so: $TORCHLESS_LIB, the package dir, or build/."""
    env = os.environ.get("TORCHLESS_LIB")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for cand in (here / "libtorchless.so", here.parent.parent / "build" / "libtorchless.so"):
        if cand.exists():
            return str(cand)
    raise OSError("libtorchless.so not found: run `make` or set TORCHLESS_LIB")


def _load(path: str) -> ctypes.CDLL:
    """Loads libtorchless.so. libgomp (OpenMP) reads its wait policy once, when it is loaded:
    unless the caller set OMP_WAIT_POLICY or GOMP_SPINCOUNT, idle worker threads spin only
    briefly (GOMP_SPINCOUNT=10000) and then sleep, instead of libgomp's default ~300,000
    spins, which on a busy machine take the CPU from the thread doing the work (BERT-base
    1x128, 2 threads, a 2-core VM at load 5-6: 0.69-0.77x ONNX Runtime's speed with the
    default, 1.26-1.45x with short spins or OMP_WAIT_POLICY=passive). The variable is
    removed afterwards, so an OpenMP runtime loaded later under another name (the libgomp
    bundled in torch's wheels) keeps its defaults. It has no effect when the system libgomp
    is already loaded (e.g. by a distro- or conda-built torch imported first)."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return ctypes.CDLL(path)
    os.environ["GOMP_SPINCOUNT"] = "10000"
    try:
        return ctypes.CDLL(path)
    finally:
        del os.environ["GOMP_SPINCOUNT"]


lib = _load(_find_library())


class TlEncodeParams(ctypes.Structure):
    _fields_ = [("add_special_tokens", c_int), ("max_length", c_size_t), ("truncation", c_int),
                ("stride", c_size_t), ("truncation_left", c_int), ("padding", c_int),
                ("pad_length", c_size_t), ("pad_to_multiple_of", c_size_t), ("pad_id", c_int32),
                ("pad_type_id", c_int32), ("pad_token", c_char_p), ("padding_left", c_int),
                ("num_threads", c_int), ("max_overflow_tokens", c_size_t),
                ("max_padded_length", c_size_t), ("drop_overflowing", c_int),
                ("max_normalize_growth", c_size_t), ("max_regex_ms", c_size_t)]


class TlModelParams(ctypes.Structure):
    _fields_ = [("num_threads", c_int), ("load_tokenizer", c_int), ("precision", c_int),
                ("check_accuracy", c_int), ("min_cosine", ctypes.c_float), ("max_rel_error", ctypes.c_float)]


class TlAccuracyReport(ctypes.Structure):
    _fields_ = [("checked", c_int), ("precision", c_int), ("max_rel_error", ctypes.c_float),
                ("min_cosine", ctypes.c_float), ("n_tokens", c_size_t)]


class TlBatch(ctypes.Structure):
    _fields_ = [
        ("n_seqs", c_size_t),
        ("seq_lens", POINTER(c_size_t)),
        ("input_ids", POINTER(c_int32)),
        ("token_type_ids", POINTER(c_int32)),
        ("position_ids", POINTER(c_int32)),
        ("attention_mask", POINTER(c_int32)),
    ]


class TlEmbedParams(ctypes.Structure):
    _fields_ = [("normalize", c_int), ("max_length", c_size_t)]


class TlTensorView(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("dtype", c_char_p), ("ndim", c_int),
                ("shape", POINTER(ctypes.c_int64)), ("data", c_void_p)]


class TlContextParams(ctypes.Structure):
    _fields_ = [("num_threads", c_int), ("kv_cache_tokens", c_size_t)]


class TlGenerateParams(ctypes.Structure):
    _fields_ = [("max_new_tokens", c_size_t), ("eos_ids", POINTER(c_int32)), ("n_eos", c_size_t),
                ("do_sample", c_int), ("temperature", c_float), ("top_k", c_int), ("top_p", c_float),
                ("repetition_penalty", c_float), ("seed", ctypes.c_uint64), ("min_p", c_float),
                ("no_repeat_ngram_size", c_size_t), ("min_new_tokens", c_size_t), ("bos_token_id", c_int32),
                ("stop_strings", POINTER(c_char_p)), ("n_stop_strings", c_size_t), ("tokenizer", c_void_p),
                ("out_logprobs", POINTER(c_float)), ("on_token", c_void_p), ("user_data", c_void_p)]


# int (*tl_token_fn)(void *user_data, size_t seq, int32_t token, float logprob)
TOKEN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_int32, c_float)


class TlEngineParams(ctypes.Structure):
    _fields_ = [("num_workers", c_int), ("threads_per_worker", c_int), ("max_batch_tokens", c_size_t),
                ("max_batch_requests", c_size_t), ("max_batch_delay_ms", c_int), ("kv_cache_tokens", c_size_t)]


class TlRequestParams(ctypes.Structure):
    _fields_ = [("kind", c_int), ("normalize", c_int), ("truncate", c_int), ("truncate_left", c_int),
                ("max_length", c_size_t), ("pipeline", c_void_p), ("inputs_json", c_char_p),
                ("params_json", c_char_p)]


class TlRequestTiming(ctypes.Structure):
    _fields_ = [("tokenize_us", ctypes.c_double), ("queue_us", ctypes.c_double),
                ("inference_us", ctypes.c_double), ("batch_requests", c_size_t),
                ("batch_seqs", c_size_t), ("batch_tokens", c_size_t)]


def _check_struct_sizes() -> None:
    """Raises OSError when a ctypes mirror's size differs from the library's struct (an
    outdated binding or library: calls would read or write the wrong bytes)."""
    size = lib.tl_struct_size
    size.restype, size.argtypes = c_size_t, [c_char_p]
    for name, mirror in (("tl_encode_params", TlEncodeParams), ("tl_model_params", TlModelParams),
                         ("tl_batch", TlBatch), ("tl_embed_params", TlEmbedParams),
                         ("tl_tensor_view", TlTensorView), ("tl_accuracy_report", TlAccuracyReport),
                         ("tl_context_params", TlContextParams), ("tl_generate_params", TlGenerateParams),
                         ("tl_engine_params", TlEngineParams), ("tl_request_params", TlRequestParams),
                         ("tl_request_timing", TlRequestTiming)):
        want = size(name.encode())
        if want != ctypes.sizeof(mirror):
            raise OSError(f"{lib._name}: struct {name} is {want} bytes in the library but "
                          f"{ctypes.sizeof(mirror)} in torchless/_lib.py: binding and library differ")


_check_struct_sizes()


def _sig(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


_sig("tl_version", c_char_p)
_sig("tl_precision_name", c_char_p, c_int)
_sig("tl_precision_parse", c_int, c_char_p, POINTER(c_int))
_sig("tl_model_accuracy", c_int, c_void_p, POINTER(TlAccuracyReport))
_sig("tl_last_error", c_char_p)
_sig("tl_status_name", c_char_p, c_int)
_sig("tl_free", None, c_void_p)

_sig("tl_tokenizer_load", c_int, c_char_p, POINTER(c_void_p))
_sig("tl_tokenizer_free", None, c_void_p)
_sig("tl_encode_default_params", TlEncodeParams)
_sig("tl_tokenizer_encode", c_int, c_void_p, c_char_p, c_size_t, c_char_p, c_size_t,
     POINTER(TlEncodeParams), POINTER(c_void_p))
_sig("tl_tokenizer_encode_batch", c_int, c_void_p, POINTER(c_char_p), POINTER(c_size_t),
     POINTER(c_char_p), POINTER(c_size_t), c_size_t, POINTER(TlEncodeParams), POINTER(c_void_p))
_sig("tl_encoding_free", None, c_void_p)
_sig("tl_encoding_length", c_size_t, c_void_p)
for _n in ("ids", "type_ids", "special_tokens_mask", "attention_mask", "offsets", "word_ids",
           "sequence_ids"):
    _sig("tl_encoding_" + _n, POINTER(c_int32), c_void_p)
_sig("tl_encoding_n_overflowing", c_size_t, c_void_p)
_sig("tl_encoding_overflowing", c_void_p, c_void_p, c_size_t)
_sig("tl_encoding_token", c_char_p, c_void_p, c_size_t)
_sig("tl_encoding_token_length", c_size_t, c_void_p, c_size_t)
_sig("tl_tokenizer_decode", c_int, c_void_p, POINTER(c_int32), c_size_t, c_int, c_int, POINTER(c_void_p))
_sig("tl_tokenizer_decode_len", c_int, c_void_p, POINTER(c_int32), c_size_t, c_int, c_int, POINTER(c_void_p),
     POINTER(c_size_t))
_sig("tl_tokenizer_vocab_size", c_size_t, c_void_p)
_sig("tl_tokenizer_token_to_id", c_int32, c_void_p, c_char_p)
_sig("tl_tokenizer_id_to_token", c_char_p, c_void_p, c_int32)

_sig("tl_model_default_params", TlModelParams)
_sig("tl_model_load", c_int, c_char_p, POINTER(TlModelParams), POINTER(c_void_p))
_sig("tl_model_free", None, c_void_p)
_sig("tl_model_load_tensors", c_int, c_char_p, POINTER(TlTensorView), c_size_t,
     POINTER(TlModelParams), POINTER(c_void_p))
_sig("tl_model_hidden_size", c_size_t, c_void_p)
_sig("tl_model_max_positions", c_size_t, c_void_p)
_sig("tl_model_type", c_char_p, c_void_p)
_sig("tl_model_tokenizer", c_void_p, c_void_p)
_sig("tl_model_forward", c_int, c_void_p, POINTER(TlBatch), POINTER(c_float), c_size_t)
_sig("tl_model_embedding_dim", c_size_t, c_void_p)
_sig("tl_embed_default_params", TlEmbedParams)
_sig("tl_embed", c_int, c_void_p, POINTER(c_char_p), c_size_t, POINTER(TlEmbedParams),
     POINTER(c_float), c_size_t)
_sig("tl_extract_features", c_int, c_void_p, POINTER(c_char_p), c_size_t, c_size_t,
     POINTER(c_void_p))
_sig("tl_features_count", c_size_t, c_void_p)
_sig("tl_features_get", POINTER(c_float), c_void_p, c_size_t, POINTER(c_size_t),
     POINTER(c_size_t))
_sig("tl_features_free", None, c_void_p)
_sig("tl_model_describe", c_void_p, c_void_p)


def check(status: int) -> None:
    """Raises TorchlessError with tl_last_error() when status is not TL_OK (0)."""
    if status != 0:
        name = lib.tl_status_name(status).decode()
        msg = lib.tl_last_error().decode("utf-8", "replace")
        raise _ERROR_CLASS.get(name, TorchlessError)(name, msg)

# pipelines (python/torchless/pipeline.py)
_sig("tl_pipeline_create", c_int, c_void_p, c_char_p, c_char_p, POINTER(c_void_p))
_sig("tl_pipeline_free", None, c_void_p)
_sig("tl_pipeline_task", c_char_p, c_void_p)
_sig("tl_pipeline_task_name", c_char_p, c_size_t)
_sig("tl_pipeline_task_alias", c_char_p, c_size_t, POINTER(c_char_p))


def pipeline_tasks() -> tuple:
    """The task names tl_pipeline_create accepts, from the C table."""
    names, i = [], 0
    while (n := lib.tl_pipeline_task_name(i)) is not None:
        names.append(n.decode())
        i += 1
    return tuple(names)


def pipeline_task_aliases() -> dict:
    """{alias: task} of the aliases tl_pipeline_create accepts, from the C table."""
    out, i, task = {}, 0, c_char_p()
    while (a := lib.tl_pipeline_task_alias(i, ctypes.byref(task))) is not None:
        out[a.decode()] = task.value.decode()
        i += 1
    return out
_sig("tl_pipeline_run", c_int, c_void_p, c_char_p, c_char_p, POINTER(c_void_p))
# int (*tl_text_fn)(void *user_data, size_t index, const char *text, size_t len)
TEXT_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, ctypes.POINTER(ctypes.c_char), c_size_t)
_sig("tl_pipeline_run_stream", c_int, c_void_p, c_char_p, c_char_p, TEXT_FN, c_void_p, POINTER(c_void_p))

# task heads (python/torchless/optimize.py)
_sig("tl_task_head_create", c_int, c_void_p, c_char_p, c_size_t, POINTER(c_void_p))
_sig("tl_task_head_free", None, c_void_p)
_sig("tl_task_head_width", c_size_t, c_void_p)
_sig("tl_task_head_per_token", c_int, c_void_p)
_sig("tl_task_head_forward", c_int, c_void_p, POINTER(TlBatch), POINTER(c_float), c_size_t)

# contexts and decoders (python/torchless/model.py: Model.logits, Model.generate)
_sig("tl_context_default_params", TlContextParams)
_sig("tl_context_new", c_int, c_void_p, POINTER(TlContextParams), POINTER(c_void_p))
_sig("tl_context_free", None, c_void_p)
_sig("tl_model_vocab_size", c_size_t, c_void_p)
_sig("tl_model_is_decoder", c_int, c_void_p)
_sig("tl_model_eos_token_id", c_int32, c_void_p)
_sig("tl_context_logits", c_int, c_void_p, POINTER(TlBatch), POINTER(c_float), c_size_t)
_sig("tl_generate_default_params", TlGenerateParams)
_sig("tl_model_generate_params", TlGenerateParams, c_void_p)
_sig("tl_generate", c_int, c_void_p, POINTER(TlBatch), POINTER(TlGenerateParams), POINTER(c_int32),
     c_size_t, POINTER(c_size_t))

# the batching engine (python/torchless/engine.py)
_sig("tl_engine_default_params", TlEngineParams)
_sig("tl_engine_new", c_int, c_void_p, POINTER(TlEngineParams), POINTER(c_void_p))
_sig("tl_engine_free", None, c_void_p)
_sig("tl_engine_queue_size", c_size_t, c_void_p)
_sig("tl_request_default_params", TlRequestParams)
_sig("tl_engine_submit", c_int, c_void_p, POINTER(c_char_p), POINTER(c_size_t), c_size_t,
     POINTER(TlRequestParams), POINTER(c_void_p))
_sig("tl_engine_submit_ids", c_int, c_void_p, POINTER(POINTER(c_int32)), POINTER(c_size_t), c_size_t,
     POINTER(TlRequestParams), POINTER(c_void_p))
_sig("tl_request_wait", c_int, c_void_p, c_int)
_sig("tl_request_cancel", None, c_void_p)
_sig("tl_request_done", c_int, c_void_p)
_sig("tl_request_cancelled", c_int, c_void_p)
_sig("tl_request_status", c_int, c_void_p)
_sig("tl_request_error", c_char_p, c_void_p)
_sig("tl_request_embeddings", POINTER(c_float), c_void_p, POINTER(c_size_t), POINTER(c_size_t))
_sig("tl_request_features", POINTER(c_float), c_void_p, c_size_t, POINTER(c_size_t), POINTER(c_size_t))
_sig("tl_request_tokens", c_size_t, c_void_p, c_size_t)
_sig("tl_request_output_json", ctypes.c_void_p, c_void_p)
_sig("tl_request_get_timing", None, c_void_p, POINTER(TlRequestTiming))
_sig("tl_request_free", None, c_void_p)
