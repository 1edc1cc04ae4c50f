/* Task and run records (core/src/record.c) as the datastore hands them back: any bytes must
 * give a record or MF_ECORRUPT, and a record read back must write and read again the same.
 * (The input-path list a task gets beside its record: fuzz_input_paths.c.) */
#include "record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mf_task_record r;
    mf_task_record_init(&r);
    char *err = NULL;
    if (mf_task_record_from_json((const char *)data, size, &r, &err) == 0) {
        char *pos = mf_record_position(&r);
        free(pos);
        char *text = mf_task_record_to_json(&r);
        if (text) {
            struct mf_task_record again;
            mf_task_record_init(&again);
            char *err2 = NULL;
            /* What the library wrote it must read. */
            if (mf_task_record_from_json(text, strlen(text), &again, &err2) != 0)
                abort();
            char *text2 = mf_task_record_to_json(&again);
            if (text2 && strcmp(text, text2) != 0)
                abort();
            free(text2);
            free(err2);
            mf_task_record_free(&again);
        }
        free(text);
    }
    free(err);
    mf_task_record_free(&r);

    struct mf_run_rec run;
    struct mf_task_record params;
    memset(&run, 0, sizeof run);
    mf_task_record_init(&params);
    if (mf_run_record_from_json((const char *)data, size, &run, &params) == 0)
        free(mf_run_record_to_json(&run, &params));
    mf_task_record_free(&params);

    return 0;
}
