"""question-answering: transformers 5 removed its QuestionAnsweringPipeline, so the oracle
here is transformers 4's algorithm (fast-tokenizer path) written out in numpy on top of
transformers' tokenizer (only_second truncation, stride, overflowing windows, offsets) and
the torch BertForQuestionAnswering; torchless.pipeline("question-answering") must give the
same answers, spans and scores (1e-4) on 30+ inputs incl. long contexts split into windows
and unanswerable questions."""
import math

import numpy as np
import pytest

from corpus import CONTEXT, LONG_CONTEXT, QUESTIONS


def reference(model, tok, question, context, top_k=1, doc_stride=None, max_answer_len=15, max_seq_len=None,
              handle_impossible_answer=False, align_to_words=True):
    """transformers 4 QuestionAnsweringPipeline (fast tokenizer, right padding side)."""
    import torch

    if max_seq_len is None:
        max_seq_len = min(tok.model_max_length, 384)
    if doc_stride is None:
        doc_stride = min(max_seq_len // 2, 128)
    enc = tok(text=question, text_pair=context, truncation="only_second", max_length=max_seq_len,
              stride=doc_stride, return_token_type_ids=True, return_overflowing_tokens=True,
              return_offsets_mapping=True, return_special_tokens_mask=True)
    min_null, answers = 1000000, []
    # every window in one right-padded forward (the pipeline runs them one by one; the
    # logits of the real tokens are the same), with the inputs the tokenizer names
    windows = [{k: enc[k][span] for k in tok.model_input_names} for span in range(len(enc["input_ids"]))]
    with torch.no_grad():
        out = model(**tok.pad(windows, return_tensors="pt"))
    for span in range(len(enc["input_ids"])):
        ids = enc["input_ids"][span]
        p_mask = np.array([tid != 1 for tid in enc.sequence_ids(span)], dtype=int)
        p_mask[np.array(ids) == tok.cls_token_id] = 0
        start = out.start_logits[span:span + 1, :len(ids)].numpy()
        end = out.end_logits[span:span + 1, :len(ids)].numpy()
        ok = np.abs(p_mask - 1)[None] & np.array([enc["attention_mask"][span]])
        start = np.where(ok == 0, -10000.0, start)
        end = np.where(ok == 0, -10000.0, end)
        start = np.exp(start - start.max(axis=-1, keepdims=True)); start = start / start.sum()
        end = np.exp(end - end.max(axis=-1, keepdims=True)); end = end / end.sum()
        if handle_impossible_answer:
            min_null = min(min_null, (start[0, 0] * end[0, 0]).item())
        start[0, 0] = end[0, 0] = 0.0
        k = top_k * 2 + 10 if align_to_words else top_k
        cand = np.tril(np.triu(np.matmul(start[..., None], end[:, None])), max_answer_len - 1)
        flat = cand.flatten()
        order = np.argsort(-flat, kind="stable")[:k] if k > 1 else [np.argmax(flat)]
        starts, ends = np.unravel_index(order, cand.shape)[1:]
        allowed = set(ok[0].nonzero()[0]) | {0}
        e_ = enc[span]
        for s, e in zip(starts, ends):
            if s not in allowed or e not in allowed:
                continue
            score = cand[0, s, e].item()
            try:
                if not align_to_words:
                    raise ValueError
                cs = e_.word_to_chars(e_.token_to_word(s), sequence_index=1)[0]
                ce = e_.word_to_chars(e_.token_to_word(e), sequence_index=1)[1]
            except Exception:
                cs, ce = e_.offsets[s][0], e_.offsets[e][1]
            text = context[cs:ce]
            same = [a for a in answers if a["answer"].lower() == text.lower()]
            if same:
                same[0]["score"] += score
            else:
                answers.append({"score": score, "start": cs, "end": ce, "answer": text})
    if handle_impossible_answer:
        answers.append({"score": min_null, "start": 0, "end": 0, "answer": ""})
    answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
    return answers[0] if len(answers) == 1 else answers


def close(a, b):
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return (a.keys() == b.keys() and a["answer"] == b["answer"] and (a["start"], a["end"]) == (b["start"], b["end"])
            and math.isclose(a["score"], b["score"], rel_tol=1e-4, abs_tol=1e-6))


@pytest.fixture(scope="module")
def qa(tmp_path_factory):
    import torchless
    from tiny_models import build_tiny_bert_task
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    d = build_tiny_bert_task(tmp_path_factory.mktemp("qa"), "qa", seed=11)
    return (AutoModelForQuestionAnswering.from_pretrained(d).eval(), AutoTokenizer.from_pretrained(d),
            torchless.pipeline("question-answering", model=str(d)))


CASES = ([{}] + [{"top_k": 3}, {"max_answer_len": 3}, {"handle_impossible_answer": True},
                 {"align_to_words": False}, {"top_k": 2, "handle_impossible_answer": True}])


@pytest.mark.parametrize("kwargs", CASES)
def test_qa_matches_reference(qa, kwargs):
    model, tok, ours = qa
    n = 0
    for context in (CONTEXT, LONG_CONTEXT):
        for q in QUESTIONS:
            ref = reference(model, tok, q, context, **kwargs)
            got = ours(question=q, context=context, **kwargs)
            assert close(ref, got), f"{q!r}\nreference: {ref}\ntorchless: {got}"
            n += 1
    assert n >= 20


def test_qa_windows_and_strides(qa):
    model, tok, ours = qa
    for kw in ({"max_seq_len": 32, "doc_stride": 8}, {"max_seq_len": 40, "doc_stride": 0}, {"doc_stride": 5},
               {"max_seq_len": 24, "doc_stride": 4, "top_k": 2}):
        for q in QUESTIONS[:6]:
            ref = reference(model, tok, q, LONG_CONTEXT, **kw)
            got = ours({"question": q, "context": LONG_CONTEXT}, **kw)
            assert close(ref, got), f"{kw} {q!r}\nreference: {ref}\ntorchless: {got}"
    batch = [{"question": q, "context": CONTEXT} for q in QUESTIONS[:4]]
    assert all(close(reference(model, tok, b["question"], b["context"]), g) for b, g in zip(batch, ours(batch)))


def test_qa_errors(qa):
    import torchless

    _, _, ours = qa
    with pytest.raises(torchless.TorchlessError, match="needs a context"):
        ours({"question": "who?"})
    with pytest.raises(torchless.TorchlessError, match="cannot be empty"):
        ours(question="who?", context="")
    with pytest.raises(torchless.TorchlessError, match="doc_stride"):
        ours(question="who?", context=CONTEXT, doc_stride=500)
    # windows the tokenizer cannot cut: the stride fills the room left for the context, or
    # the question leaves none (transformers' tokenizer panics on both)
    with pytest.raises(torchless.TorchlessError, match=r"does not fit windows of max_seq_len=16 tokens with "
                                                       r"doc_stride=14 \(lower doc_stride.*stride 14 must be less"):
        ours(question="who?", context=LONG_CONTEXT, max_seq_len=16, doc_stride=14)
    with pytest.raises(torchless.TorchlessError, match=r"max_seq_len=12 .*shorten the question"):
        ours(question=" ".join(QUESTIONS), context=LONG_CONTEXT, max_seq_len=12, doc_stride=2)
