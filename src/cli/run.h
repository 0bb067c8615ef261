/* run.h — the state `torchless run` keeps while it streams inputs through a task in
 * bounded batches (cmd_run.c parses the options, run_batch.c runs and prints batches). */
#ifndef TL_CLI_RUN_H
#define TL_CLI_RUN_H
#include "cli.h"

enum run_kind { RUN_EMBED, RUN_FEATURES, RUN_PIPELINE };

typedef struct run_state {
    tl_model *m;
    tl_pipeline *p;       /* RUN_PIPELINE only */
    enum run_kind kind;
    size_t max_len;       /* embeddings / features truncation, 0 = the model's */
    int normalize, sim, table, skip;
    int stream_text, full_text; /* text-generation --format text: stream; print the prompt first */
    tl_progress progress;
    float *kept;          /* --similarity: the embeddings printed so far, n_kept x dim */
    size_t n_kept, cap_kept;
    size_t n_done, n_bad;
    int rc;               /* worst exit code so far: 2 a malformed input, 1 a failed one */
    int stopped;          /* --on-error stop hit a bad input */
} run_state;

/* Runs the task on items[0..n) (bad ones carry in->error) and prints one line per input in
 * order; a bad or failing input is reported on stderr as "torchless: LOCATION: reason" and
 * printed as `null` with --on-error skip; with stop, processing ends there (r->stopped). */
void tl_run_batch(run_state *r, tl_input *items, size_t n);

/* Prints what ends the run: the --similarity matrix, and with skip the count of failed
 * inputs. */
void tl_run_finish(run_state *r);

#endif
