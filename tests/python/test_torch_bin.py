"""pytorch_model.bin: every tiny architecture saved with torch.save (zip layout, legacy
layout, sharded through pytorch_model.bin.index.json, strided views, bf16/f16) gives exactly
the outputs of its safetensors twin; malicious pickles are refused naming the global, and
nothing they name ever runs."""
import collections
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from test_arch_parity import CASES
from tiny_models import build_family_task, build_tiny_encoder
from torchless import Model, TorchlessError, pipeline

VARIANTS = ("zip", "legacy", "sharded", "strided")


def state_dict_of(st_dir, model_class):
    """The state dict transformers gives for the checkpoint (tied weights share storage)."""
    import transformers

    m = getattr(transformers, model_class).from_pretrained(st_dir).eval()
    return m.state_dict()


def write_bin(d, sd, variant):
    """Writes sd into d as pytorch_model.bin (or shards + index) in the given variant."""
    d.mkdir(parents=True, exist_ok=True)
    if variant == "legacy":
        torch.save(sd, d / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    elif variant == "strided":  # every matrix saved as a transposed view of its transpose
        sd = collections.OrderedDict((k, v.t().contiguous().t() if v.dim() == 2 else v) for k, v in sd.items())
        assert any(not v.is_contiguous() for v in sd.values())
        torch.save(sd, d / "pytorch_model.bin")
    elif variant == "sharded":
        keys = list(sd)
        half = len(keys) // 2
        parts = {"pytorch_model-00001-of-00002.bin": keys[:half], "pytorch_model-00002-of-00002.bin": keys[half:]}
        wm = {}
        for fname, ks in parts.items():
            torch.save(collections.OrderedDict((k, sd[k]) for k in ks), d / fname)
            wm.update({k: fname for k in ks})
        (d / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    else:
        torch.save(sd, d / "pytorch_model.bin")


def twin_of(st_dir, out, sd, variant):
    """A copy of st_dir with every file but the safetensors, and sd written as .bin."""
    out.mkdir(parents=True)
    for f in st_dir.iterdir():
        if f.is_file() and not f.name.startswith("model.safetensors"):
            shutil.copy(f, out / f.name)
    write_bin(out, sd, variant)
    assert not list(out.glob("*.safetensors"))
    return out


def random_ids(vocab, n_max, seed=3):
    rng = np.random.default_rng(seed)
    return [[int(x) for x in rng.integers(2, vocab, size=n)] for n in (1, 5, 17, min(n_max, 40))]


@pytest.fixture(scope="module")
def arch_dirs(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cls, cfg = CASES[name]
            cache[name] = build_tiny_encoder(tmp_path_factory.mktemp(name), cls, cfg, seed=len(name))
        return cache[name]

    return get


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_bin_matches_safetensors(arch_dirs, tmp_path, name, variant):
    st_dir = arch_dirs(name)
    cls, cfg = CASES[name]
    sd = state_dict_of(st_dir, cls)
    bin_dir = twin_of(st_dir, tmp_path / "bin", sd, variant)
    a, b = Model(st_dir, load_tokenizer=False), Model(bin_dir, load_tokenizer=False)
    ids = random_ids(cfg["vocab_size"], a.max_positions)
    for x, y in zip(a.forward(ids), b.forward(ids)):
        np.testing.assert_array_equal(x, y)


def test_tied_weights_share_one_storage(arch_dirs, tmp_path):
    """An MLM head tied to the word embeddings: one storage, two names, both read."""
    st_dir = arch_dirs("albert_mlm_prefixed")
    sd = state_dict_of(st_dir, "AlbertForMaskedLM")
    ptrs = collections.Counter(v.untyped_storage().data_ptr() for v in sd.values())
    assert max(ptrs.values()) >= 2  # the test really has tied weights
    bin_dir = twin_of(st_dir, tmp_path / "bin", sd, "zip")
    z = zipfile.ZipFile(bin_dir / "pytorch_model.bin")
    assert len([n for n in z.namelist() if "/data/" in n]) < len(sd)
    Model(bin_dir, load_tokenizer=False).forward([[3, 4, 5]])


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("variant", ["zip", "legacy"])
def test_half_precision_state_dicts(tmp_path, dtype, variant):
    from safetensors.torch import save_file

    cls, cfg = CASES["roberta"]
    src = build_tiny_encoder(tmp_path / "src", cls, cfg, seed=1)
    sd = state_dict_of(src, cls)
    sd = collections.OrderedDict((k, v.to(getattr(torch, dtype)) if v.is_floating_point() else v)
                                 for k, v in sd.items())
    st_dir = tmp_path / "st"
    st_dir.mkdir()
    shutil.copy(src / "config.json", st_dir / "config.json")
    save_file({k: v.contiguous() for k, v in sd.items()}, str(st_dir / "model.safetensors"), metadata={"format": "pt"})
    bin_dir = twin_of(st_dir, tmp_path / "bin", sd, variant)
    ids = random_ids(cfg["vocab_size"], 60)
    for x, y in zip(Model(st_dir, load_tokenizer=False).forward(ids), Model(bin_dir, load_tokenizer=False).forward(ids)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert", "albert", "electra", "mpnet", "deberta-v2",
                                    "modernbert"])
def test_fill_mask_pipeline_from_bin(tmp_path, family):
    """A task model with its tokenizer: the pipeline gives the same results from .bin."""
    import transformers

    st_dir = build_family_task(tmp_path / "st", family, "mlm")
    cls = transformers.AutoModelForMaskedLM.from_pretrained(st_dir).eval()
    bin_dir = twin_of(st_dir, tmp_path / "bin", cls.state_dict(), "zip")
    mask = json.loads((st_dir / "tokenizer_config.json").read_text())["mask_token"]
    text = f"the quick brown {mask} jumps over the lazy dog"
    assert pipeline("fill-mask", model=str(bin_dir))(text) == pipeline("fill-mask", model=str(st_dir))(text)


def test_cli_runs_a_bin_checkpoint(cli, tmp_path):
    st_dir = build_family_task(tmp_path / "st", "bert", "base")
    import transformers

    sd = transformers.AutoModel.from_pretrained(st_dir).state_dict()
    bin_dir = twin_of(st_dir, tmp_path / "bin", sd, "zip")
    outs = [subprocess.run([str(cli), "run", "--model", str(d), "--task", "feature-extraction", "hello world"],
                           capture_output=True, text=True, check=True).stdout for d in (st_dir, bin_dir)]
    assert outs[0] == outs[1] and "last_hidden_state" in outs[0]


# ---------------------------------------------------------------- malicious pickles


def zip_with_pickle(path, data_pkl):
    """A torch.save-shaped archive whose data.pkl is the given bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")


class Call:
    """Pickles as a call of fn(*args) (what an attacker's __reduce__ does)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def ustr(s):
    """A pickled str (BINUNICODE)."""
    return b"X" + len(s.encode()).to_bytes(4, "little") + s.encode()


def payloads(marker):
    """name -> (pickle bytes that would create marker when unpickled, global the error must name)."""
    sh = f"touch {marker}"
    rebuild = torch._utils._rebuild_tensor_v2
    return {
        "os.system": (pickle.dumps(Call(os.system, sh), protocol=2), "system'"),
        "builtins.eval": (pickle.dumps(Call(eval, f"open({str(marker)!r}, 'w')"), protocol=2), "eval'"),
        "subprocess.Popen": (pickle.dumps(Call(subprocess.Popen, ["touch", str(marker)]), protocol=2),
                             "Popen'"),
        "stack_global": (pickle.dumps(Call(os.system, sh), protocol=4), "system' (opcode STACK_GLOBAL)"),
        "inst": (b"(" + ustr(sh) + b"ios\nsystem\n.", "global 'os.system' (opcode INST)"),
        "obj": (b"(cos\nsystem\n" + ustr(sh) + b"o.", "global 'os.system' (opcode GLOBAL)"),
        # a real state dict whose tensor's storage argument is eval(...): the nested REDUCE
        "nested_reduce": (pickle.dumps(collections.OrderedDict(w=Call(rebuild, Call(eval, f"open({str(marker)!r}, 'w')"),
                                                                       0, (1,), (1,), False, collections.OrderedDict()))),
                          "eval'"),
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "subprocess.Popen", "stack_global", "inst", "obj",
                                  "nested_reduce"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    data, named = payloads(marker)[kind]
    # the payload is live: plain pickle (in a child process) creates the marker
    live = tmp_path / "lived"  # same length as "pwned": the pickled strings keep their sizes
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"],
                   input=data.replace(str(marker).encode(), str(live).encode()), capture_output=True, timeout=60)
    assert live.exists(), "the test payload does not do what it claims"
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(build_family_task(tmp_path / "st", "bert", "base") / "config.json", d / "config.json")
    zip_with_pickle(d / "pytorch_model.bin", data)
    with pytest.raises(TorchlessError) as e:
        Model(d, load_tokenizer=False)
    msg = str(e.value)
    assert "global '" in msg and "refused" in msg, msg
    assert named in msg and "pytorch_model.bin" in msg and "data.pkl" in msg, msg
    assert not marker.exists()


def test_malicious_legacy_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(build_family_task(tmp_path / "st", "bert", "base") / "config.json", d / "config.json")
    with open(d / "pytorch_model.bin", "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(pickle.dumps(Call(os.system, f"touch {marker}"), protocol=2))
    with pytest.raises(TorchlessError, match=r"global '(posix|os)\.system' \(opcode GLOBAL\) refused"):
        Model(d, load_tokenizer=False)
    assert not marker.exists()
