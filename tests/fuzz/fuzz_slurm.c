/* What Slurm prints (plugins/compute/slurm/parse.c, describe.c): squeue lines, `scontrol -o
 * show job`, sacct, sbatch --parsable, times, and the `scontrol show node` + sinfo pair the
 * describe document is built from (the input split at its first NUL or form feed). */
#include "slurm_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void take(void *ud, const struct sl_qline *q)
{
    size_t *n = ud;
    (*n)++;
    int to;
    const char *why;
    (void)sl_classify(q->state, &to, &why);
    if (strnlen(q->jobid, sizeof q->jobid) == sizeof q->jobid ||
        strnlen(q->state, sizeof q->state) == sizeof q->state ||
        strnlen(q->reason, sizeof q->reason) == sizeof q->reason)
        abort();   /* an unterminated field */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t n = 0;
    /* squeue: one call per line, as the plugin reads its output */
    char *copy = strdup(text);
    if (copy) {
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            struct sl_qline q;
            if (sl_parse_squeue_line(line, &q) == 0)
                take(&n, &q);
            (void)sl_parse_time(line);
        }
        free(copy);
    }
    sl_parse_scontrol(text, take, &n);
    sl_parse_sacct(text, take, &n);
    char id[32];
    if (sl_parse_sbatch(text, id, sizeof id) == 0 && strnlen(id, sizeof id) == sizeof id)
        abort();
    size_t nw = 0;
    sl_free_vec(sl_split_words(text, &nw));
    /* describe: nodes, then partitions after a form feed (or the rest after a NUL) */
    const char *parts = "";
    char *ff = strchr(text, '\f');
    if (ff) {
        *ff = '\0';
        parts = ff + 1;
    } else if (strlen(text) < size) {
        parts = text + strlen(text) + 1;
    }
    free(sl_describe_json(text, parts, NULL, "fuzz"));
    free(sl_describe_json(text, parts, "debug", "fuzz"));
    free(text);
    return 0;
}
