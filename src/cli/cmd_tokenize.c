/* cmd_tokenize.c — `torchless tokenize`: ids, tokens, type ids and offsets as JSON. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the tokenize subcommand's help to f. */
static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: torchless tokenize --model DIR_OR_ID [options] [TEXT...]\n\n"
            "Prints one JSON line per text: {\"ids\", \"tokens\", \"type_ids\", \"attention_mask\",\n"
            "\"special_tokens_mask\", \"word_ids\", \"sequence_ids\"} (+ \"offsets\" with --offsets,\n"
            "+ \"overflowing\": [the same objects] when truncation leaves windows).\n\n"
            "  -m, --model DIR_OR_ID   a model directory, a tokenizer.json path, or a cached HF id\n"
            "  -p, --pair TEXT         encode each TEXT together with this second sequence\n"
            "  -i, --input FILE        JSONL file ('-' = stdin): a JSON string or {\"text\": ...} per line\n"
            "      --offsets           include character offsets [start, end) in code points\n"
            "      --max-length N      truncate to N tokens, special tokens included\n"
            "      --truncation S      longest_first (default), only_first or only_second\n"
            "      --stride N          overflowing windows overlap by N tokens (default 0)\n"
            "      --decode            each TEXT is a list of ids (\"101 7592 102\" or \"[101,7592]\");\n"
            "                          prints {\"text\": ...}, special tokens skipped\n"
            "      --keep-special-tokens  with --decode: keep special tokens\n"
            "      --clean-up          with --decode: transformers' clean_up_tokenization_spaces\n"
            "      --no-special-tokens do not add [CLS]/[SEP] (or the model's equivalents)\n"
            "  -h, --help              this help\n");
}

/* Adds an int32 array of n entries to obj under key. */
static void add_ints(cJSON *obj, const char *key, const int32_t *v, size_t n) {
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

/* Builds the JSON object of encoding e (and its overflowing windows); NULL on OOM. */
static cJSON *encoding_json(const tl_encoding *e, int offsets) {
    size_t n = tl_encoding_length(e);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_ints(o, "ids", tl_encoding_ids(e), n);
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
    for (size_t i = 0; toks && i < n; i++) cJSON_AddItemToArray(toks, cJSON_CreateString(tl_encoding_token(e, i)));
    add_ints(o, "type_ids", tl_encoding_type_ids(e), n);
    add_ints(o, "attention_mask", tl_encoding_attention_mask(e), n);
    add_ints(o, "special_tokens_mask", tl_encoding_special_tokens_mask(e), n);
    add_ints(o, "word_ids", tl_encoding_word_ids(e), n);
    add_ints(o, "sequence_ids", tl_encoding_sequence_ids(e), n);
    if (offsets) {
        const int32_t *off = tl_encoding_offsets(e);
        cJSON *a = cJSON_AddArrayToObject(o, "offsets");
        for (size_t i = 0; a && i < n; i++) {
            int pairv[2] = {off[2 * i], off[2 * i + 1]};
            cJSON_AddItemToArray(a, cJSON_CreateIntArray(pairv, 2));
        }
    }
    size_t nov = tl_encoding_n_overflowing(e);
    cJSON *ov = nov ? cJSON_AddArrayToObject(o, "overflowing") : NULL;
    for (size_t i = 0; ov && i < nov; i++) cJSON_AddItemToArray(ov, encoding_json(tl_encoding_overflowing(e, i), offsets));
    return o;
}

/* Decodes one input of ids (integers separated by spaces, commas or brackets, e.g. a JSON
 * array) and prints {"text": ...}; errors name the input's location (label). Returns the
 * exit code. */
static int print_decoded(const tl_tokenizer *tok, const char *arg, int skip_special, int clean_up,
                         const char *label) {
    size_t n = 0, cap = strlen(arg) / 2 + 1;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) { fprintf(stderr, "torchless: out of memory\n"); return 1; }
    for (const char *p = arg; *p;) {
        if (strchr(" \t\n,[]", *p)) { p++; continue; }
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX || (*end && !strchr(" \t\n,[]", *end))) {
            fprintf(stderr, "torchless tokenize: %s: --decode: '%s' is not a list of integer ids\n", label, arg);
            free(ids);
            return 2;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_tokenizer_decode_len(tok, ids, n, skip_special, clean_up, &text, &len);
    free(ids);
    if (s != TL_OK) return tl_cli_fail(label);
    cJSON *o = cJSON_CreateObject();
    char *out = o && cJSON_AddStringToObject(o, "text", text) ? cJSON_PrintUnformatted(o) : NULL;
    int rc = 0;
    if (out) puts(out); else { fprintf(stderr, "torchless: out of memory\n"); rc = 1; }
    cJSON_free(out);
    cJSON_Delete(o);
    tl_free(text);
    return rc;
}

/* Encodes one text (+ pair) and prints its JSON line; errors name the input's location
 * (label). Returns the exit code. */
static int print_encoding(const tl_tokenizer *tok, const char *text, const char *pair,
                          const tl_encode_params *ep, int offsets, const char *label) {
    tl_encoding *e = NULL;
    if (tl_tokenizer_encode(tok, text, strlen(text), pair, pair ? strlen(pair) : 0, ep, &e) != TL_OK)
        return tl_cli_fail(label);
    cJSON *o = encoding_json(e, offsets);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    int rc = 0;
    if (s) puts(s); else { fprintf(stderr, "torchless: out of memory\n"); rc = 1; }
    cJSON_free(s);
    cJSON_Delete(o);
    tl_encoding_free(e);
    return rc;
}

int tl_cmd_tokenize(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"pair", required_argument, 0, 'p'},
        {"input", required_argument, 0, 'i'}, {"offsets", no_argument, 0, 'o'},
        {"max-length", required_argument, 0, 'L'}, {"no-special-tokens", no_argument, 0, 'S'},
        {"truncation", required_argument, 0, 'T'}, {"stride", required_argument, 0, 'R'},
        {"decode", no_argument, 0, 'D'}, {"keep-special-tokens", no_argument, 0, 'K'},
        {"clean-up", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_arg = NULL, *pair = NULL, *input_path = NULL;
    int offsets = 0, c, decode = 0, keep_special = 0, clean_up = 0;
    tl_encode_params ep = tl_encode_default_params();
    tl_strlist texts = {0}, labels = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:p:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'p': pair = optarg; break;
        case 'i': input_path = optarg; break;
        case 'o': offsets = 1; break;
        case 'L': {
            long v = tl_cli_positive(optarg, 1L << 30, "tokenize", "--max-length");
            if (!v) { tl_strlist_free(&texts); return 2; }
            ep.max_length = (size_t)v;
            break;
        }
        case 'S': ep.add_special_tokens = 0; break;
        case 'T':
            if (!strcmp(optarg, "longest_first")) ep.truncation = TL_TRUNCATE_LONGEST_FIRST;
            else if (!strcmp(optarg, "only_first")) ep.truncation = TL_TRUNCATE_ONLY_FIRST;
            else if (!strcmp(optarg, "only_second")) ep.truncation = TL_TRUNCATE_ONLY_SECOND;
            else {
                fprintf(stderr, "torchless tokenize: --truncation must be longest_first, only_first or only_second\n");
                tl_strlist_free(&texts);
                return 2;
            }
            break;
        case 'R': {
            long v = strcmp(optarg, "0") ? tl_cli_positive(optarg, 1L << 30, "tokenize", "--stride") : 0;
            if (v < 0 || (!v && strcmp(optarg, "0"))) { tl_strlist_free(&texts); return 2; }
            ep.stride = (size_t)v;
            break;
        }
        case 'D': decode = 1; break;
        case 'K': keep_special = 1; break;
        case 'C': clean_up = 1; break;
        case 'h': tokenize_usage(stdout); tl_strlist_free(&texts); return 0;
        default: tokenize_usage(stderr); tl_strlist_free(&texts); return 2;
        }
    }
    int rc = tl_read_texts(input_path, argv + optind, argc - optind, "tokenize", &texts, &labels);
    const char *path = rc ? NULL : tl_cli_model_arg(model_arg, "tokenize");
    if (!path) {
        tl_strlist_free(&texts);
        tl_strlist_free(&labels);
        return rc ? rc : 2;
    }
    tl_tokenizer *tok = NULL;
    if (tl_tokenizer_load(path, &tok) != TL_OK) rc = tl_cli_fail("cannot load tokenizer");
    for (size_t i = 0; !rc && i < texts.n; i++)
        rc = decode ? print_decoded(tok, texts.items[i], !keep_special, clean_up, labels.items[i])
                    : print_encoding(tok, texts.items[i], pair, &ep, offsets, labels.items[i]);
    tl_tokenizer_free(tok);
    tl_strlist_free(&texts);
    tl_strlist_free(&labels);
    return rc;
}
