/* cli.h — shared pieces of the torchless command-line program. */
#ifndef TL_CLI_H
#define TL_CLI_H
#include <stddef.h>
#include "torchless.h"

/* Each subcommand: argc/argv start at the subcommand name; returns the exit code. */
int tl_cmd_run(int argc, char **argv);
int tl_cmd_inspect(int argc, char **argv);
int tl_cmd_tokenize(int argc, char **argv);
int tl_cmd_serve(int argc, char **argv);

/* A growable list of owned strings (input texts). */
typedef struct tl_strlist { char **items; size_t n, cap; } tl_strlist;

/* Appends a copy of s; returns 0 on OOM. */
int tl_strlist_push(tl_strlist *l, const char *s);
/* Frees all items. */
void tl_strlist_free(tl_strlist *l);

/* Reads texts from a JSONL file ("-" = stdin): each non-blank line is a JSON string or an
 * object with a "text" string. Prints an error naming file and line and returns 0 on failure. */
int tl_read_jsonl_texts(const char *path, tl_strlist *out);

/* Reads a JSONL file ("-" = stdin) of pipeline inputs: each non-blank line one JSON value,
 * stored re-serialized. Prints an error naming file and line and returns 0 on failure. */
int tl_read_jsonl_values(const char *path, tl_strlist *out);

/* Parses a whole decimal argument as a positive integer no larger than max; returns
 * it, or 0 after printing "torchless CMD: OPTION must be a positive integer". */
long tl_cli_positive(const char *arg, long max, const char *cmd, const char *option);

/* Prints "torchless: <what>: <tl_last_error()>" to stderr and returns exit code 1. */
int tl_cli_fail(const char *what);

/* The model argument: the --model value, else $TORCHLESS_MODEL; prints usage help and
 * returns NULL when neither is given. */
const char *tl_cli_model_arg(const char *opt, const char *cmd);

#endif
