"""The text-generation pipeline (C task, Python torchless.pipeline, CLI) against
transformers.pipeline('text-generation') on a tiny random GPT-2 with a trained byte-level
BPE tokenizer: greedy outputs equal, return_full_text / return_tensors, lists of prompts,
stop strings, the pipeline's defaults, errors; the CLI streams the same text."""
import json
import subprocess

import pytest

from tiny_models import build_tiny_gpt2_lm

PROMPTS = ["the quick brown fox", "hello world", "machine learning models", "a", "café naïve"]


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    return build_tiny_gpt2_lm(tmp_path_factory.mktemp("tg"), seed=9, n_positions=320)


@pytest.fixture(scope="module")
def hf_pipe(gpt2_dir):
    import transformers
    return transformers.pipeline("text-generation", model=str(gpt2_dir))


@pytest.mark.parametrize("kw", [dict(max_new_tokens=12), dict(max_new_tokens=20, return_full_text=False),
                                dict(max_new_tokens=9, no_repeat_ngram_size=2, repetition_penalty=1.2),
                                dict(max_new_tokens=6, return_tensors=True), dict(max_new_tokens=15, min_new_tokens=5),
                                dict(max_new_tokens=6, return_tensors=False), dict(max_new_tokens=6, return_text=False),
                                dict(max_new_tokens=8, clean_up_tokenization_spaces=True),
                                dict(max_new_tokens=8, clean_up_tokenization_spaces=False)])
def test_greedy_matches_transformers_pipeline(gpt2_dir, hf_pipe, kw):
    import torchless
    pipe = torchless.pipeline("text-generation", model=str(gpt2_dir))
    for p in PROMPTS:
        assert pipe(p, do_sample=False, **kw) == hf_pipe(p, do_sample=False, **kw), p
    assert pipe(PROMPTS, do_sample=False, **kw) == hf_pipe(PROMPTS, do_sample=False, **kw)


def test_task_inferred_and_defaults(gpt2_dir, hf_pipe):
    import torchless
    pipe = torchless.pipeline(model=str(gpt2_dir))
    assert pipe.task == "text-generation"
    # the pipeline default: sampling at temperature 0.7, 256 new tokens at most (eos may end it)
    out = pipe("hello", seed=1)
    assert isinstance(out, list) and len(out) == 1 and out[0]["generated_text"].startswith("hello")
    assert out == pipe("hello", seed=1)
    # no seed: each call samples afresh, as transformers' pipeline does (nearly flat logits of a
    # random model: two 30-token samples agree with negligible probability)
    assert pipe("hello", max_new_tokens=30) != pipe("hello", max_new_tokens=30)
    # options given at creation apply to every call
    greedy = torchless.pipeline("text-generation", model=str(gpt2_dir), do_sample=False, max_new_tokens=8)
    assert greedy("hello world") == hf_pipe("hello world", do_sample=False, max_new_tokens=8)


def test_stop_strings_match_transformers(gpt2_dir, hf_pipe):
    import torchless
    pipe = torchless.pipeline("text-generation", model=str(gpt2_dir))
    kw = dict(do_sample=False, max_new_tokens=30, no_repeat_ngram_size=1, return_full_text=False)
    text = pipe("the quick", **kw)[0]["generated_text"]
    at = next(i for i in range(len(text) // 2, len(text) - 3) if text[i:i + 3].isascii() and text[i:i + 3].isprintable()
              and text[i:i + 3] not in text[:i + 2])
    stop = text[at:at + 3]
    got = pipe("the quick", stop_strings=[stop], **kw)
    assert got == hf_pipe("the quick", stop_strings=[stop], tokenizer=hf_pipe.tokenizer, **kw)
    assert got[0]["generated_text"].endswith(stop) or stop in got[0]["generated_text"][-6:]


def test_errors_are_named(gpt2_dir):
    import torchless
    from torchless import TorchlessError
    pipe = torchless.pipeline("text-generation", model=str(gpt2_dir))
    with pytest.raises(TorchlessError, match="top_p"):
        pipe("hi", top_p=0.0)
    with pytest.raises(TorchlessError, match="temperature"):
        pipe("hi", temperature=-1.0)
    with pytest.raises(TorchlessError, match="max_new_tokens"):
        pipe("hi", max_new_tokens=320)
    with pytest.raises(TorchlessError, match="max positions"):  # refused before allocating for it
        pipe("hi", max_new_tokens=2**40)
    with pytest.raises(TorchlessError, match="unknown parameter 'bogus'"):
        pipe("hi", bogus=1)
    with pytest.raises(TorchlessError, match="chat messages are not supported"):
        pipe([{"role": "user", "content": "hi"}])
    with pytest.raises(TorchlessError, match="num_return_sequences"):
        pipe("hi", num_return_sequences=2)


def test_encoder_refuses_text_generation(tmp_path):
    import torchless
    from tiny_models import build_tiny_bert
    from torchless import TorchlessError
    d = build_tiny_bert(tmp_path / "bert")
    with pytest.raises(TorchlessError, match="needs a decoder"):
        torchless.pipeline("text-generation", model=str(d))


def test_cli_streams_the_pipeline_text(gpt2_dir, hf_pipe, cli):
    kw = dict(do_sample=False, max_new_tokens=16)
    want = [hf_pipe(p, **kw) for p in PROMPTS[:3]]
    proc = subprocess.Popen([str(cli), "run", "-m", str(gpt2_dir), "--task", "text-generation",
                             "--options", json.dumps(kw), *PROMPTS[:3]], stdout=subprocess.PIPE, text=True)
    first = proc.stdout.read(len(PROMPTS[0]))  # the first prompt arrives before the run ends
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 0
    assert first + rest == "".join(w[0]["generated_text"] + "\n" for w in want)
    out = subprocess.run([str(cli), "run", "-m", str(gpt2_dir), "--task", "text-generation", "--format", "json",
                          "--options", json.dumps(kw), *PROMPTS[:3]], capture_output=True, text=True, check=True)
    assert [json.loads(x) for x in out.stdout.splitlines()] == want
    # return_full_text false: the new text alone; auto finds the task from config.json
    kw["return_full_text"] = False
    out = subprocess.run([str(cli), "run", "-m", str(gpt2_dir), "-t", "auto", "-o", json.dumps(kw), PROMPTS[0]],
                         capture_output=True, text=True, check=True)
    assert out.stdout == hf_pipe(PROMPTS[0], **kw)[0]["generated_text"] + "\n"
    bad = subprocess.run([str(cli), "run", "-m", str(gpt2_dir), "-t", "text-generation", "--format", "table", "x"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--format table" in bad.stderr
    bad = subprocess.run([str(cli), "run", "-m", str(gpt2_dir), "-t", "text-generation", "-o", '{"top_p": 0}', "x"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "top_p" in bad.stderr


def test_on_text_streams_pieces_that_make_the_text(gpt2_dir, hf_pipe):
    import torchless
    pipe = torchless.pipeline("text-generation", model=str(gpt2_dir))
    kw = dict(do_sample=False, max_new_tokens=24, return_full_text=False)
    pieces = {}
    got = pipe(PROMPTS[:3], on_text=lambda i, t: pieces.setdefault(i, []).append(t), **kw)
    assert got == hf_pipe(PROMPTS[:3], **kw)
    for i, g in enumerate(got):
        assert "".join(pieces[i]) == g[0]["generated_text"]
        assert len(pieces[i]) > 1
    # a true return ends that input there
    cut = pipe(PROMPTS[0], on_text=lambda i, t: True, **kw)
    assert len(cut[0]["generated_text"]) < len(got[0][0]["generated_text"])


@pytest.mark.parametrize("kw", [dict(return_full_text=True, return_text=True), dict(return_full_text=False, return_tensors=True),
                                dict(return_tensors=True, return_text=True)])
def test_exclusive_return_options_are_refused_as_transformers_does(gpt2_dir, hf_pipe, kw):
    import torchless
    pipe = torchless.pipeline("text-generation", model=str(gpt2_dir))
    with pytest.raises(ValueError, match="mutually exclusive") as want:
        hf_pipe(PROMPTS[0], do_sample=False, max_new_tokens=2, **kw)
    with pytest.raises(ValueError, match="mutually exclusive") as got:
        pipe(PROMPTS[0], do_sample=False, max_new_tokens=2, **kw)
    assert str(want.value) in str(got.value)
