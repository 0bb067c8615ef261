/* hub.c — offline resolution of a model argument (directory or Hugging Face model id)
 * to a directory, following the huggingface_hub cache layout:
 *   ROOT/models--ORG--NAME/refs/main          (a commit hash)
 *   ROOT/models--ORG--NAME/snapshots/HASH/    (the files) */
#include "io/hub.h"
#include "core/error.h"
#include "core/util.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HUB_MAX_ROOTS 5

/* Returns 1 if s looks like a filesystem path rather than a model id. */
static int looks_like_path(const char *s) {
    return s[0] == '/' || s[0] == '~' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0 ||
           strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

/* Checks a model id "ORG/NAME" or "NAME": at most one '/', no empty part, no "..",
 * only [A-Za-z0-9._-], at most 256 bytes. Returns TL_ERR_INVALID_ARG naming the id. */
static tl_status check_id(const char *id) {
    if (strlen(id) > 256) return tl_set_error(TL_ERR_INVALID_ARG, "model id too long (%zu bytes)", strlen(id));
    const char *slash = strchr(id, '/');
    if (slash && strchr(slash + 1, '/'))
        return tl_set_error(TL_ERR_INVALID_ARG, "'%s': a model id is ORG/NAME or NAME (more than one '/')", id);
    if (!id[0] || slash == id || (slash && !slash[1]))
        return tl_set_error(TL_ERR_INVALID_ARG, "'%s': a model id is ORG/NAME or NAME (empty part)", id);
    if (strstr(id, ".."))
        return tl_set_error(TL_ERR_INVALID_ARG, "'%s': a model id may not contain '..'", id);
    for (const char *p = id; *p; p++)
        if (*p != '/' && *p != '-' && *p != '_' && *p != '.' && !isalnum((unsigned char)*p))
            return tl_set_error(TL_ERR_INVALID_ARG, "'%s': invalid character '%c' in a model id (allowed: letters, "
                                "digits, '-', '_', '.')", id, *p);
    return TL_OK;
}

/* Returns malloc'd "a/b/c" ("a/b" when c is NULL); NULL on OOM. */
static char *join3(const char *a, const char *b, const char *c) {
    char *ab = tl_path_join(a, b);
    if (!ab || !c) return ab;
    char *abc = tl_path_join(ab, c);
    free(ab);
    return abc;
}

/* Fills roots[] with the cache roots to search, in order, without duplicates.
 * Returns the count; the strings are malloc'd (caller frees). */
static size_t cache_roots(char **roots) {
    const struct {
        const char *env, *sub;
    } spec[HUB_MAX_ROOTS] = {
        {"HF_HUB_CACHE", NULL},
        {"HUGGINGFACE_HUB_CACHE", NULL}, /* the older name huggingface_hub still honours */
        {"HF_HOME", "hub"},
        {"XDG_CACHE_HOME", "huggingface/hub"},
        {"HOME", ".cache/huggingface/hub"},
    };
    size_t n = 0;
    for (size_t i = 0; i < HUB_MAX_ROOTS; i++) {
        const char *v = getenv(spec[i].env);
        if (!v || !v[0]) continue;
        char *r = spec[i].sub ? tl_path_join(v, spec[i].sub) : tl_strdup(v);
        if (!r) continue;
        int dup = 0;
        for (size_t j = 0; j < n; j++) dup |= strcmp(roots[j], r) == 0;
        if (dup) free(r);
        else roots[n++] = r;
    }
    return n;
}

/* Reads repo/refs/main, trimmed; returns malloc'd hash or NULL when absent or unusable. */
static char *read_ref(const char *repo) {
    char *p = join3(repo, "refs", "main"), *buf = NULL;
    size_t len;
    if (!p || !tl_file_exists(p) || tl_read_file(p, &buf, &len) != TL_OK) {
        free(p);
        return NULL;
    }
    free(p);
    char *s = buf;
    while (*s && isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) e--;
    *e = '\0';
    char *r = (*s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0) ? tl_strdup(s) : NULL;
    free(buf);
    return r;
}

/* Returns malloc'd path of the most recently modified snapshot dir under snaps (ties: the
 * greatest name), or NULL when there is none. */
static char *newest_snapshot(const char *snaps) {
    DIR *d = opendir(snaps);
    if (!d) return NULL;
    char *best = NULL;
    struct timespec best_t = {0, 0};
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = tl_path_join(snaps, de->d_name);
        struct stat sb;
        if (!p || stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            free(p);
            continue;
        }
        struct timespec t = sb.st_mtim;
        int newer = !best || t.tv_sec > best_t.tv_sec ||
                    (t.tv_sec == best_t.tv_sec && (t.tv_nsec > best_t.tv_nsec ||
                                                   (t.tv_nsec == best_t.tv_nsec && strcmp(p, best) > 0)));
        if (newer) {
            free(best);
            best = p;
            best_t = t;
        } else {
            free(p);
        }
    }
    closedir(d);
    return best;
}

/* Resolves repo (ROOT/models--ORG--NAME) to its snapshot dir: refs/main, else the newest
 * snapshot. Returns malloc'd path or NULL. */
static char *resolve_repo(const char *repo) {
    char *snaps = tl_path_join(repo, "snapshots");
    if (!snaps) return NULL;
    char *ref = read_ref(repo), *dir = NULL;
    if (ref) {
        dir = tl_path_join(snaps, ref);
        if (dir && !tl_dir_exists(dir)) {
            free(dir);
            dir = NULL;
        }
        free(ref);
    }
    if (!dir) dir = newest_snapshot(snaps);
    free(snaps);
    return dir;
}

/* Resolves a directory path or a model id in the local cache (see hub.h). Caller frees *dir. */
tl_status tl_resolve_model_dir(const char *path_or_id, char **dir) {
    if (!dir) return tl_set_error(TL_ERR_INVALID_ARG, "tl_resolve_model_dir: dir is NULL");
    *dir = NULL;
    if (!path_or_id || !path_or_id[0])
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_resolve_model_dir: empty model path or id");
    const char *arg = path_or_id;
    if (tl_dir_exists(arg)) {
        *dir = tl_strdup(arg);
        return *dir ? TL_OK : tl_set_error(TL_ERR_OOM, "%s: out of memory", arg);
    }
    if (looks_like_path(arg)) {
        const char *home = getenv("HOME");
        if (arg[0] == '~' && (arg[1] == '/' || !arg[1]) && home && home[0]) { /* unexpanded ~/ */
            char *p = arg[1] ? tl_path_join(home, arg + 2) : tl_strdup(home);
            if (p && tl_dir_exists(p)) {
                *dir = p;
                return TL_OK;
            }
            free(p);
        }
        if (tl_file_exists(arg)) return tl_set_error(TL_ERR_IO, "%s: not a directory", arg);
        return tl_set_error(TL_ERR_IO, "%s: no such directory", arg);
    }
    tl_status s = check_id(arg);
    if (s != TL_OK) return s;

    char repo_name[512];
    const char *slash = strchr(arg, '/');
    if (slash)
        snprintf(repo_name, sizeof repo_name, "models--%.*s--%s", (int)(slash - arg), arg, slash + 1);
    else
        snprintf(repo_name, sizeof repo_name, "models--%s", arg);

    char *roots[HUB_MAX_ROOTS];
    size_t nr = cache_roots(roots);
    char searched[768];
    size_t k = 0;
    searched[0] = '\0';
    for (size_t i = 0; i < nr && !*dir; i++) {
        char *repo = tl_path_join(roots[i], repo_name);
        if (repo) {
            *dir = resolve_repo(repo);
            if (k < sizeof searched)
                k += (size_t)snprintf(searched + k, sizeof searched - k, "%s%s", k ? ", " : "", repo);
        }
        free(repo);
    }
    for (size_t i = 0; i < nr; i++) free(roots[i]);
    if (*dir) return TL_OK;
    return tl_set_error(TL_ERR_IO,
                        "model '%s' not found in the local Hugging Face cache (searched: %s); download it first or "
                        "pass a directory path (we are offline)",
                        arg, nr ? searched : "nothing: none of HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME is set");
}
