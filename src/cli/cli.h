/* cli.h — shared pieces of the torchless command-line program. */
#ifndef TL_CLI_H
#define TL_CLI_H
#include <stdio.h>
#include <stddef.h>
#include "torchless.h"

/* Each subcommand: argc/argv start at the subcommand name; returns the exit code. */
int tl_cmd_run(int argc, char **argv);
int tl_cmd_inspect(int argc, char **argv);
int tl_cmd_tokenize(int argc, char **argv);
int tl_cmd_bench(int argc, char **argv);
int tl_cmd_serve(int argc, char **argv);

/* A growable list of owned strings (input texts). */
typedef struct tl_strlist { char **items; size_t n, cap; } tl_strlist;

/* Appends a copy of s; returns 0 on OOM. */
int tl_strlist_push(tl_strlist *l, const char *s);
/* Frees all items. */
void tl_strlist_free(tl_strlist *l);

/* ---- inputs (input.c): JSONL lines, then TEXT arguments, one at a time ---- */

/* Where inputs come from; filled by tl_input_open, read with tl_input_next. */
typedef struct tl_input_src {
    FILE *f;            /* the JSONL file or stdin, NULL once read */
    const char *path;   /* as shown in locations ("<stdin>" for '-') */
    size_t lineno, n_read;
    int values;         /* 1: each input is a JSON value (pipeline tasks); 0: a text */
    int is_regular;     /* the file is a regular file (its lines can be counted first) */
    char **args;
    int n_args, arg_i;
    char *line;
    size_t cap;
} tl_input_src;

/* One input: its location ("FILE:LINE" or "argument N"), its 0-based index among all
 * inputs, and either text (owned) or error (owned; usage_error = 1 for a malformed line). */
typedef struct tl_input {
    char label[320];
    size_t index;
    char *text, *error;
    int usage_error;
} tl_input;

/* Opens path ("-" = stdin; NULL = no file) followed by args[0..n_args). Prints an error
 * (a directory, a file that cannot be opened) and returns 0 on failure. */
int tl_input_open(tl_input_src *s, const char *path, char **args, int n_args, int values);
/* Reads the next input into *in (skipping blank lines): 1 when there is one (check
 * in->error), 0 at the end. Clear *in with tl_input_clear before reusing it. */
int tl_input_next(tl_input_src *s, tl_input *in);
/* Frees in's text and error. */
void tl_input_clear(tl_input *in);
/* Closes the file and frees the reader's buffers. */
void tl_input_close(tl_input_src *s);
/* Counts the non-blank lines of the file at path (0 when it cannot be read). */
size_t tl_input_count_lines(const char *path);
/* After reading: when no input at all was read, prints why (an empty file, only blank
 * lines, no arguments) for command cmd and returns 1; else returns 0. */
int tl_input_report_empty(const tl_input_src *s, const char *path, const char *cmd);

/* ---- progress bar on stderr (progress.c) ---- */

typedef struct tl_progress { int on, drawn; size_t done, total; double start, last; } tl_progress;

/* Starts a bar for total inputs (0 = unknown: count and rate only); it is shown only when
 * wanted and stderr is a terminal. */
void tl_progress_start(tl_progress *p, int wanted, size_t total);
/* Counts n more inputs done and redraws (at most every 0.1 s). */
void tl_progress_add(tl_progress *p, size_t n);
/* Clears the bar's line so that a message can be printed (redrawn on the next add). */
void tl_progress_note(tl_progress *p);
/* Draws the final state and ends the line. */
void tl_progress_end(tl_progress *p);

/* ---- helpers (common.c, defaults.c) ---- */

/* Reads all inputs of path and args as texts (tokenize), with their locations in labels.
 * Prints "torchless: LOCATION: reason" and returns 2 (malformed) or 1 (invalid UTF-8) on
 * the first bad input, 2 when there is none at all, else 0. */
int tl_read_texts(const char *path, char **args, int n_args, const char *cmd, tl_strlist *texts,
                  tl_strlist *labels);

/* Parses a whole decimal argument as a positive integer no larger than max; returns
 * it, or 0 after printing "torchless CMD: OPTION must be a positive integer". */
long tl_cli_positive(const char *arg, long max, const char *cmd, const char *option);

/* Prints "torchless: <what>: <tl_last_error()>" to stderr and returns exit code 1. */
int tl_cli_fail(const char *what);
/* Parses a --precision value (fp32, bf16, int8, auto) into *out; prints why not and
 * returns 0 when it names none. */
int tl_cli_precision(const char *arg, const char *cmd, int *out);

/* The model argument: the --model value, else $TORCHLESS_MODEL; prints usage help and
 * returns NULL when neither is given. */
const char *tl_cli_model_arg(const char *opt, const char *cmd);

/* Returns 1 when the model argument is an existing regular file (config.json, a
 * .safetensors file) after printing that a model is a directory or an id; else 0. */
int tl_cli_model_is_file(const char *path, const char *cmd);

/* Checks $TORCHLESS_NUM_THREADS: unset, empty or a positive integer up to 4096 returns 1;
 * anything else prints an error naming the variable and returns 0. */
int tl_cli_check_env(void);

/* transformers' default checkpoint id for task (as torchless.pipeline), or NULL. */
const char *tl_cli_default_model(const char *task);

#endif
