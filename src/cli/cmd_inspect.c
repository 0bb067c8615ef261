/* cmd_inspect.c — `torchless inspect`: architecture, parameters, dtypes, kernels. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

int tl_cmd_inspect(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"precision", required_argument, 0, 'P'},
                                         {"check-accuracy", no_argument, 0, 'A'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_arg = NULL;
    tl_model_params mp = tl_model_default_params();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'm') model_arg = optarg;
        else if (c == 'P') {
            if (!tl_cli_precision(optarg, "inspect", &mp.precision)) return 2;
        } else if (c == 'A') mp.check_accuracy = 1;
        else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: torchless inspect --model DIR_OR_ID [--precision P] [--check-accuracy]\n\n"
                    "Prints the model's architecture, parameter count, checkpoint dtypes, and the\n"
                    "kernels one forward pass runs, in order. --precision fp32|bf16|int8|auto loads it\n"
                    "in that precision; --check-accuracy (always on for auto) also prints how far its\n"
                    "last hidden state is from fp32's on a calibration batch (docs/precision.md).\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc && !model_arg) model_arg = argv[optind];
    const char *path = tl_cli_model_arg(model_arg, "inspect");
    if (!path || tl_cli_model_is_file(path, "inspect")) return 2;
    tl_model *m = NULL;
    if (tl_model_load(path, &mp, &m) != TL_OK) return tl_cli_fail("cannot load model");
    char *desc = tl_model_describe(m);
    int rc = desc ? (fputs(desc, stdout), 0) : tl_cli_fail("inspect");
    tl_free(desc);
    tl_model_free(m);
    return rc;
}
