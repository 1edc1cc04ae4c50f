/* Unit tests of the cron expression parser (core/src/cron.c): what valid expressions mean,
 * bit for bit, and that every invalid one is refused with a message naming the expression,
 * the field and the fault. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "cron.h"

static uint64_t bits(int lo, int hi, int step)
{
    uint64_t b = 0;
    for (int v = lo; v <= hi; v += step)
        b |= (uint64_t)1 << v;
    return b;
}

static struct mf_cron ok(const char *expr)
{
    struct mf_cron c;
    char *err = NULL;
    int rc = mf_cron_parse(expr, &c, &err);
    if (rc)
        fail_msg("'%s' refused: %s", expr, err ? err : "(no message)");
    assert_null(err);
    return c;
}

static void test_every_minute(void **state)
{
    (void)state;
    struct mf_cron c = ok("* * * * *");
    assert_int_equal(c.minute, bits(0, 59, 1));
    assert_int_equal(c.hour, bits(0, 23, 1));
    assert_int_equal(c.dom, bits(1, 31, 1));
    assert_int_equal(c.month, bits(1, 12, 1));
    assert_int_equal(c.dow, bits(0, 6, 1));
    assert_int_equal(c.reboot, 0);
}

static void test_values_ranges_lists_steps(void **state)
{
    (void)state;
    struct mf_cron c = ok("0 3 * * *");
    assert_int_equal(c.minute, 1);
    assert_int_equal(c.hour, 1u << 3);
    c = ok("*/15 9-17 1,15 */3 1-5");
    assert_int_equal(c.minute, bits(0, 59, 15));
    assert_int_equal(c.hour, bits(9, 17, 1));
    assert_int_equal(c.dom, (1u << 1) | (1u << 15));
    assert_int_equal(c.month, bits(1, 12, 3));
    assert_int_equal(c.dow, bits(1, 5, 1));
    c = ok("5-59/10 0,12 * * *");
    assert_int_equal(c.minute, bits(5, 59, 10));
    assert_int_equal(c.hour, 1u | (1u << 12));
    c = ok("  1,2,3-5,40-45/2\t*  *  *  *  ");   /* blanks around and between */
    assert_int_equal(c.minute, bits(1, 5, 1) | bits(40, 45, 2));
    c = ok("59 23 31 12 7");   /* the top of every range; 7 is Sunday */
    assert_int_equal(c.minute, (uint64_t)1 << 59);
    assert_int_equal(c.hour, 1u << 23);
    assert_int_equal(c.dom, 1u << 31);
    assert_int_equal(c.month, 1u << 12);
    assert_int_equal(c.dow, 1u);
}

static void test_names(void **state)
{
    (void)state;
    struct mf_cron c = ok("0 9 * jan-mar mon-fri");
    assert_int_equal(c.month, bits(1, 3, 1));
    assert_int_equal(c.dow, bits(1, 5, 1));
    c = ok("0 9 * DEC Sun");
    assert_int_equal(c.month, 1u << 12);
    assert_int_equal(c.dow, 1u);
    c = ok("0 0 * feb,aug sat,sun");
    assert_int_equal(c.month, (1u << 2) | (1u << 8));
    assert_int_equal(c.dow, 1u | (1u << 6));
}

static void test_specials(void **state)
{
    (void)state;
    struct mf_cron daily = ok("0 0 * * *");
    struct mf_cron c = ok("@daily");
    assert_memory_equal(&c, &daily, sizeof c);
    c = ok("@midnight");
    assert_memory_equal(&c, &daily, sizeof c);
    c = ok("@hourly");
    assert_int_equal(c.minute, 1);
    assert_int_equal(c.hour, bits(0, 23, 1));
    c = ok("@weekly");
    assert_int_equal(c.dow, 1);
    c = ok("@monthly");
    assert_int_equal(c.dom, 1u << 1);
    assert_int_equal(c.month, bits(1, 12, 1));
    struct mf_cron y = ok("@yearly"), a = ok("@annually");
    assert_memory_equal(&y, &a, sizeof y);
    assert_int_equal(y.month, 1u << 1);
    c = ok("@reboot");
    assert_int_equal(c.reboot, 1);
    assert_int_equal(c.minute, 0);
    c = ok("@DAILY");
    assert_memory_equal(&c, &daily, sizeof c);
}

/* Refused, and the message holds every needle. */
static void refused(const char *expr, const char *needle1, const char *needle2)
{
    char *err = NULL;
    struct mf_cron c;
    int rc = mf_cron_parse(expr, &c, &err);
    if (rc != MF_EINVAL)
        fail_msg("'%s' was accepted", expr);
    assert_non_null(err);
    char quoted[256];
    snprintf(quoted, sizeof quoted, "schedule '%s'", expr);
    if (!strstr(err, quoted) || !strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("'%s': message lacks [%s] [%s] [%s]: %s", expr, quoted, needle1,
                 needle2 ? needle2 : "", err);
    free(err);
}

static void test_invalid(void **state)
{
    (void)state;
    refused("", "empty", NULL);
    refused("   ", "empty", NULL);
    refused("* * * *", "4 fields", "day of week missing");
    refused("*", "1 field,", "hour missing");
    refused("* * * * * *", "more than five fields", "'*' is a sixth");
    refused("* * * * * echo hi", "more than five fields", "'echo'");
    refused("60 * * * *", "field 1 (minute, 0-59) '60'", "out of range");
    refused("* 24 * * *", "field 2 (hour, 0-23) '24'", "out of range");
    refused("* * 0 * *", "field 3 (day of month, 1-31) '0'", "out of range");
    refused("* * 32 * *", "day of month", "out of range");
    refused("* * * 13 *", "field 4 (month, 1-12) '13'", "out of range");
    refused("* * * 0 *", "month", "out of range");
    refused("* * * * 8", "field 5 (day of week, 0-7) '8'", "out of range");
    refused("*/0 * * * *", "'*/0'", "step");
    refused("*/61 * * * *", "'*/61'", "step");
    refused("5/10 * * * *", "'5/10'", "a step after a single value");
    refused("10-5 * * * *", "'10-5'", "end comes before its start");
    refused("1,,2 * * * *", "'1,,2'", "empty item");
    refused("1, * * * *", "'1,'", "empty item");
    refused(",1 * * * *", "',1'", "empty item");
    refused("a * * * *", "minute", "not a number");
    refused("* * * foo *", "month", "unknown name");
    refused("* * * * monday", "day of week", "unknown name");
    refused("* * * * mon-", "day of week", "not a number or name");
    refused("* jan * * *", "hour", "not a number");
    refused("1- * * * *", "minute", "not a number");
    refused("-1 * * * *", "minute", "not a number");
    refused("1.5 * * * *", "minute", "unexpected characters");
    refused("*/2/2 * * * *", "minute", "step");
    refused("0001 * * * *", "minute", "too many digits");
    refused("** * * * *", "minute", "unexpected characters");
    refused("@often", "'@often' is not one of", "@hourly");
    refused("@daily extra", "is not one of", NULL);
    refused("0 3 * * *\n* * * * * rm -rf /", "control character", NULL);
}

static void test_null_out(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(mf_cron_parse("@weekly", NULL, &err), 0);
    assert_int_equal(mf_cron_parse("0 0 * * *", NULL, &err), 0);
    assert_int_equal(mf_cron_parse(NULL, NULL, &err), MF_EINVAL);
    assert_non_null(err);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_minute), cmocka_unit_test(test_values_ranges_lists_steps),
        cmocka_unit_test(test_names),        cmocka_unit_test(test_specials),
        cmocka_unit_test(test_invalid),      cmocka_unit_test(test_null_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
