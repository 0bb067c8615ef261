/* cmd_inspect.c — `torchless inspect`: architecture, parameters, dtypes, kernels. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

int tl_cmd_inspect(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'm') model_arg = optarg;
        else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: torchless inspect --model DIR_OR_ID\n\n"
                    "Prints the model's architecture, parameter count, checkpoint dtypes, and the\n"
                    "kernels one forward pass runs, in order.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc && !model_arg) model_arg = argv[optind];
    const char *path = tl_cli_model_arg(model_arg, "inspect");
    if (!path || tl_cli_model_is_file(path, "inspect")) return 2;
    tl_model *m = NULL;
    if (tl_model_load(path, NULL, &m) != TL_OK) return tl_cli_fail("cannot load model");
    char *desc = tl_model_describe(m);
    int rc = desc ? (fputs(desc, stdout), 0) : tl_cli_fail("inspect");
    tl_free(desc);
    tl_model_free(m);
    return rc;
}
