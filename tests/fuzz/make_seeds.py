"""Writes the seed corpora of the fuzz targets into DIR/<target>/: small torch.save files
(zip and legacy layouts, tied and strided tensors, fp32/bf16/f16/int64), their data.pkl
pickles, and small safetensors files. Usage: make_seeds.py DIR"""
import collections
import io
import sys
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save as st_save


def state_dicts():
    torch.manual_seed(0)
    w = torch.randn(3, 4)
    yield collections.OrderedDict(w=w, tied=w, t=w.t(), row=w[1], b=torch.randn(4))
    yield collections.OrderedDict(h=torch.randn(5).to(torch.bfloat16), f=torch.randn(2, 2).to(torch.float16))
    yield collections.OrderedDict(ids=torch.arange(6), mask=torch.ones(3, dtype=torch.bool),
                                  d=torch.randn(2, dtype=torch.float64), empty=torch.zeros(0, 3), s=torch.tensor(1.5))
    sd = collections.OrderedDict(p=torch.nn.Parameter(torch.randn(2, 3)))
    sd._metadata = collections.OrderedDict({"": {"version": 1}})
    yield sd


def main(out):
    out = Path(out)
    for t in ("torch_bin", "pickle", "safetensors"):
        (out / t).mkdir(parents=True, exist_ok=True)
    for i, sd in enumerate(state_dicts()):
        for legacy in (False, True):
            buf = io.BytesIO()
            torch.save(sd, buf, _use_new_zipfile_serialization=not legacy)
            data = buf.getvalue()
            (out / "torch_bin" / f"sd{i}{'_legacy' if legacy else ''}.bin").write_bytes(data)
            if legacy:
                (out / "pickle" / f"legacy{i}.pkl").write_bytes(data)
            else:
                z = zipfile.ZipFile(io.BytesIO(data))
                pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
                (out / "pickle" / f"sd{i}.pkl").write_bytes(z.read(pkl))
        plain = {k: v.detach().contiguous().clone() for k, v in sd.items()}
        (out / "safetensors" / f"sd{i}.safetensors").write_bytes(st_save(plain, metadata={"format": "pt"}))


if __name__ == "__main__":
    main(sys.argv[1])
