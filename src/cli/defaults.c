/* defaults.c — the model `run` uses when neither --model nor $TORCHLESS_MODEL is given:
 * transformers' default checkpoint for the task, looked up in the local Hugging Face cache
 * (the same table as python/torchless/pipeline.py DEFAULT_MODELS). */
#include "cli.h"

#include <string.h>

const char *tl_cli_default_model(const char *task) {
    static const struct { const char *task, *id; } table[] = {
        {"text-classification", "distilbert/distilbert-base-uncased-finetuned-sst-2-english"},
        {"sentiment-analysis", "distilbert/distilbert-base-uncased-finetuned-sst-2-english"},
        {"token-classification", "dbmdz/bert-large-cased-finetuned-conll03-english"},
        {"ner", "dbmdz/bert-large-cased-finetuned-conll03-english"},
        {"question-answering", "distilbert/distilbert-base-cased-distilled-squad"},
        {"fill-mask", "distilbert/distilroberta-base"},
        {"zero-shot-classification", "facebook/bart-large-mnli"},
        {"feature-extraction", "distilbert/distilbert-base-cased"},
        {"sentence-embedding", "sentence-transformers/all-MiniLM-L6-v2"},
        {"sentence-similarity", "sentence-transformers/all-MiniLM-L6-v2"},
        {"text-pair-scoring", "cross-encoder/ms-marco-MiniLM-L6-v2"},
        {"text-ranking", "cross-encoder/ms-marco-MiniLM-L6-v2"},
        {"rerank", "cross-encoder/ms-marco-MiniLM-L6-v2"},
        {"text-generation", "openai-community/gpt2"},
    };
    for (size_t i = 0; task && i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(task, table[i].task)) return table[i].id;
    return NULL;
}
