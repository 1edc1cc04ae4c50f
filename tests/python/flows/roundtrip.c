/* Values for the Python codec to read from the datastore: every C type with its edge values,
 * and (with --pydir=DIR) every file DIR/NAME.TYPE stored as artifact NAME of type TYPE (a
 * number of enum mf_type) through mf_set_value: what the Python codec wrote. */
#include <mflow/flow.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void store_dir(mf_task *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        mf_fail(t, "cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        char name[256], path[4096];
        const char *dot = strrchr(e->d_name, '.');
        if (e->d_name[0] == '.' || !dot || (size_t)(dot - e->d_name) >= sizeof name)
            continue;
        memcpy(name, e->d_name, (size_t)(dot - e->d_name));
        name[dot - e->d_name] = 0;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            mf_fail(t, "cannot open %s", path);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc(n ? (size_t)n : 1);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
            mf_fail(t, "cannot read %s", path);
        fclose(f);
        mf_set_value(t, name, (mf_type)atoi(dot + 1), buf, (size_t)n);
        free(buf);
    }
    closedir(d);
}

static void start(mf_task *t)
{
    mf_set_i64(t, "i_zero", 0);
    mf_set_i64(t, "i_min", INT64_MIN);
    mf_set_i64(t, "i_max", INT64_MAX);
    mf_set_f64(t, "f_neg_zero", -0.0);
    mf_set_f64(t, "f_nan", NAN);
    mf_set_f64(t, "f_inf", -INFINITY);
    mf_set_f64(t, "f_sub", 4.9406564584124654e-324);
    mf_set_f64(t, "f_tenth", 0.1);
    mf_set_str(t, "s_empty", "");
    mf_set_str(t, "s_utf8", "caf\xc3\xa9 \xf0\x9f\x98\x80");
    mf_set_str(t, "s_not_utf8", "ok\xff\xfe");
    mf_set_bytes(t, "b_nul", "\0a\0\xff", 4);
    mf_set_bytes(t, "b_empty", "", 0);
    const int64_t iv[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    mf_set_i64v(t, "iv", iv, 5);
    mf_set_i64v(t, "iv_empty", NULL, 0);
    const double fv[] = {1.5, NAN, INFINITY, -0.0, DBL_MAX};
    mf_set_f64v(t, "fv", fv, 5);
    const char *sv[] = {"", "a", "\xc3\xa9", "x\xffy"};
    mf_set_strv(t, "sv", sv, 4);
    mf_set_strv(t, "sv_empty", NULL, 0);
    const char *dir = mf_get_str(t, "pydir");
    if (*dir)
        store_dir(t, dir);
}

static void end(mf_task *t)
{
    (void)t;
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "pydir", .type = MF_STR, .default_value = ""},
};
MF_FLOW("RoundTripFlow", steps, params);
