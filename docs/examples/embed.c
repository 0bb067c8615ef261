/* embed.c — sentence embeddings with libtorchless.
 *
 * Loads a sentence-transformers model (e.g. all-MiniLM-L6-v2) from the directory given
 * as argv[1] (or $TORCHLESS_MODEL), embeds three sentences, prints the embedding size,
 * the first values of each embedding and the cosine similarity of sentence 0 with
 * sentences 1 and 2.
 *
 * Build:  B=/usr/lib/x86_64-linux-gnu/openblas-openmp
 *         cc -std=c11 -Iinclude embed.c -o embed build/libtorchless.a -lcjson -lutf8proc \
 *             -lpcre2-8 -L$B -Wl,-rpath,$B -lopenblas -lm -lpthread -fopenmp -ldnnl
 * Run:    ./embed path/to/all-MiniLM-L6-v2
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <torchless.h>

/* Cosine similarity of two vectors of length d (0 when either is all zeros). */
static double cosine(const float *a, const float *b, size_t d) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0.0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("TORCHLESS_MODEL");
    if (!path || !*path) {
        fprintf(stderr, "usage: %s MODEL_DIR_OR_ID   (or set TORCHLESS_MODEL)\n", argv[0]);
        return 2;
    }
    const char *sentences[3] = {
        "The cat sits on the mat.",
        "A cat is resting on a rug.",
        "Stock markets fell sharply today.",
    };
    const size_t n = sizeof sentences / sizeof sentences[0];

    /* 1. Load config.json, the weights and tokenizer.json; NULL params = defaults. */
    tl_model *model = NULL;
    if (tl_model_load(path, NULL, &model) != TL_OK) {
        fprintf(stderr, "cannot load model: %s\n", tl_last_error());
        return 1;
    }

    /* 2. Room for n embeddings of tl_model_embedding_dim() floats each. */
    size_t dim = tl_model_embedding_dim(model);
    float *emb = malloc(n * dim * sizeof *emb);
    if (!emb) {
        fprintf(stderr, "out of memory\n");
        tl_model_free(model);
        return 1;
    }

    /* 3. Embed: tokenize, run the encoder on one packed batch, pool, normalize —
     *    exactly as the model's sentence-transformers configuration says. */
    tl_embed_params params = tl_embed_default_params();
    if (tl_embed(model, sentences, n, &params, emb, n * dim) != TL_OK) {
        fprintf(stderr, "cannot embed: %s\n", tl_last_error());
        free(emb);
        tl_model_free(model);
        return 1;
    }

    /* 4. Print what we got. */
    printf("model: %s (%s)\n", path, tl_model_type(model));
    printf("dimension: %zu\n", dim);
    for (size_t i = 0; i < n; i++) {
        printf("sentence %zu: [", i);
        for (size_t k = 0; k < 4 && k < dim; k++) printf(k ? " %.6f" : "%.6f", emb[i * dim + k]);
        printf(" ...] \"%s\"\n", sentences[i]);
    }
    for (size_t j = 1; j < n; j++)
        printf("cosine(0, %zu) = %.6f\n", j, cosine(emb, emb + j * dim, dim));

    /* 5. Free everything we own. */
    free(emb);
    tl_model_free(model);
    return 0;
}
