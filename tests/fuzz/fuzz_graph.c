/* The graph a run stored (runs/<Flow>/<run>/graph.json) as the client reads it back
 * (core/src/client.c): the step order of `mflow inspect` and the successors of a task. The
 * store answers with the input (fuzz_store.h); client.c is included so that its static readers
 * are the code under test. (The resume's own comparison, mf_resume_check_graph in resume.c,
 * reads the same document with the same null-safe jansson getters; it is not a target yet.) */
#include "client.c"
#include "fuzz_store.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input = data;
    fuzz_input_size = size;
    fuzz_input_key = "runs/F/1/graph.json";   /* the reader asks for the run's graph alone */
    static mf_client c;
    c.st.ops = &fuzz_input_ops;
    c.st_open = 1;
    /* Steps that ran, as the index lists them; the graph orders them and adds the rest. */
    static const char *ran[] = {"start", "a", "join", "end"};
    struct mf_client_steps l = {0};
    for (size_t i = 0; i < sizeof ran / sizeof ran[0]; i++) {
        struct mf_client_step *s = steps_add(&l, ran[i]);
        if (!s)
            abort();
        s->n = 1;
        s->first = (int64_t)i + 1;
    }
    int rc = graph_order(&c, "F", 1, &l);
    if (rc == 0) {
        /* Every step that ran is still listed, with its tasks, once. */
        size_t total = 0;
        for (size_t k = 0; k < l.n; k++)
            total += l.items[k].n;
        if (total != sizeof ran / sizeof ran[0])
            abort();
        for (size_t i = 0; i < sizeof ran / sizeof ran[0]; i++) {
            size_t k = 0;
            while (k < l.n && strcmp(l.items[k].name, ran[i]) != 0)
                k++;
            if (k == l.n || l.items[k].n != 1)
                abort();
        }
    }
    free(l.items);
    for (size_t i = 0; i < sizeof ran / sizeof ran[0]; i++) {
        struct mf_sbuf names = {0};
        (void)graph_next(&c, "F", 1, ran[i], &names);
        mf_sbuf_free(&names);
    }
    return 0;
}
