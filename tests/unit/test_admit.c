/* admit.c: a step's request against a compute plugin's described offers. */
#include "admit.h"

#include <jansson.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *doc(const char *text)
{
    json_error_t e;
    json_t *d = json_loads(text, 0, &e);
    assert_non_null(d);
    return d;
}

static struct mf_resources req(uint32_t cpu, uint64_t mem, uint32_t gpu)
{
    return (struct mf_resources){.struct_size = sizeof(struct mf_resources), .cpu = cpu,
                                 .memory_mb = mem, .gpu = gpu};
}

/* Two partitions of different shapes: a request fits when one node holds all of it. */
static const char *cluster =
    "{\"source\": \"scontrol show node and sinfo\", \"offers\": ["
    "{\"kind\": \"node\", \"name\": \"c1\", \"cpus\": 64, \"memory_mb\": 64000, \"gpus\": 0, \"partitions\": [\"cpu\"]},"
    "{\"kind\": \"node\", \"name\": \"m1\", \"cpus\": 8, \"memory_mb\": 512000, \"gpus\": 0, \"partitions\": [\"mem\", \"all\"]},"
    "{\"kind\": \"node\", \"name\": \"g1\", \"cpus\": 16, \"memory_mb\": 128000, \"gpus\": 4, \"partitions\": [\"gpu\"]}]}";

static void test_fits_one_offer(void **s)
{
    (void)s;
    json_t *d = doc(cluster);
    char *err = NULL;
    struct mf_resources cases[] = {
        req(0, 0, 0), req(64, 64000, 0), req(8, 300000, 0), req(16, 100000, 4), req(1, 0, 2),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(mf_admit_offers(d, "slurm", "a", &cases[i], &err), 0);
        assert_null(err);
    }
    json_decref(d);
}

static void test_refuses_naming_the_largest(void **s)
{
    (void)s;
    json_t *d = doc(cluster);
    char *err = NULL;
    /* Each figure fits some node, but no node has them all. */
    struct mf_resources r = req(32, 300000, 0);
    assert_int_equal(mf_admit_offers(d, "slurm", "train", &r, &err), MF_EINVAL);
    assert_string_equal(err,
        "step 'train' asks for 32 CPUs, 300000 MB of memory and 0 GPUs, but no node of compute "
        "'slurm' has that much: the largest is node 'c1' (partition cpu; 64 CPUs, 64000 MB, 0 GPUs; "
        "from scontrol show node and sinfo); lower the step's resources or send it to a bigger "
        "backend (the step's compute, or --compute)");
    free(err);
    err = NULL;
    r = req(128, 0, 0);
    assert_int_equal(mf_admit_offers(d, "slurm", "wide", &r, &err), MF_EINVAL);
    assert_non_null(strstr(err, "step 'wide' asks for 128 CPUs"));
    assert_non_null(strstr(err, "the largest is node 'c1'"));
    free(err);
    err = NULL;
    r = req(1, 0, 8);
    assert_int_equal(mf_admit_offers(d, "slurm", "gpus", &r, &err), MF_EINVAL);
    assert_non_null(strstr(err, "1 CPU, 0 MB of memory and 8 GPUs"));
    free(err);
    err = NULL;
    r = req(1, 600000, 0);
    assert_int_equal(mf_admit_offers(d, "slurm", "fat", &r, &err), MF_EINVAL);
    free(err);
    json_decref(d);
}

/* A member an offer lacks is not judged; no offers at all, nothing is. */
static void test_what_is_not_said_is_not_judged(void **s)
{
    (void)s;
    char *err = NULL;
    json_t *d = doc("{\"offers\": [{\"kind\": \"pool\", \"name\": \"p\", \"cpus\": 4}]}");
    struct mf_resources r = req(4, 1000000, 8);
    assert_int_equal(mf_admit_offers(d, "k8s", "a", &r, &err), 0);
    r = req(5, 0, 0);
    assert_int_equal(mf_admit_offers(d, "k8s", "a", &r, &err), MF_EINVAL);
    assert_non_null(strstr(err, "the largest is pool 'p' (4 CPUs);"));
    free(err);
    err = NULL;
    json_decref(d);
    const char *silent[] = {"{}", "{\"offers\": []}", "{\"offers\": 3}", "{\"offers\": [1, \"x\"]}"};
    for (size_t i = 0; i < sizeof silent / sizeof silent[0]; i++) {
        d = doc(silent[i]);
        r = req(1000, 1000000, 100);
        assert_int_equal(mf_admit_offers(d, "x", "a", &r, &err), 0);
        assert_null(err);
        json_decref(d);
    }
}

/* A request struct of the 1.0 size and an unset cpu count as one CPU. */
static void test_unset_cpu_is_one(void **s)
{
    (void)s;
    char *err = NULL;
    json_t *d = doc("{\"offers\": [{\"kind\": \"machine\", \"name\": \"m\", \"cpus\": 1, \"memory_mb\": 100, \"gpus\": 0}]}");
    struct mf_resources r = req(0, 100, 0);
    assert_int_equal(mf_admit_offers(d, "local", "a", &r, &err), 0);
    d = (json_decref(d), doc("{\"offers\": [{\"kind\": \"machine\", \"name\": \"m\", \"cpus\": 0, \"memory_mb\": 100, \"gpus\": 0}]}"));
    assert_int_equal(mf_admit_offers(d, "local", "a", &r, &err), MF_EINVAL);
    assert_non_null(strstr(err, "asks for 1 CPU,"));
    free(err);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_one_offer),
        cmocka_unit_test(test_refuses_naming_the_largest),
        cmocka_unit_test(test_what_is_not_said_is_not_judged),
        cmocka_unit_test(test_unset_cpu_is_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
