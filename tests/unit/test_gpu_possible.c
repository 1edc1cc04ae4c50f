/* placement_gpu_possible (plugins/common/placement.c): whether hwloc's I/O discovery can find
 * a GPU here, judged from PCI class files and GPU drivers' devices, on fake sysfs and /dev
 * trees made in a temporary directory. When it says no, a run's topology load skips the
 * discovery (15 of 16 ms of CPU on a VM), so a wrong "no" would hide a GPU: every way a GPU
 * can show is checked to say yes. */
#include "placement.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char root[PATH_MAX], pci[PATH_MAX + 8], dev[PATH_MAX + 8];

/* A PCI device NAME with its class file holding CLASS (NULL: no class file). */
static void pci_dev(const char *name, const char *class)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", pci, name);
    assert_int_equal(mkdir(p, 0700), 0);
    if (!class)
        return;
    snprintf(p, sizeof p, "%s/%s/class", pci, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", class);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/gpu_possible.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(root))
        return -1;
    snprintf(pci, sizeof pci, "%s/pci", root);
    snprintf(dev, sizeof dev, "%s/dev", root);
    return mkdir(pci, 0700) || mkdir(dev, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) != 0;
}

/* A VM like CI's: a host bridge, an ISA bridge, SCSI, Ethernet and unclassified devices. */
static void vm_devices(void)
{
    pci_dev("0000:00:00.0", "0x060000");
    pci_dev("0000:00:01.0", "0xffff00");
    pci_dev("0000:00:02.0", "0x018000");
    pci_dev("0000:00:03.0", "0x020000");
}

static void no_gpu_on_a_vm(void **state)
{
    (void)state;
    vm_devices();
    assert_int_equal(placement_gpu_possible(pci, dev), 0);
}

static void gpu_classes_say_yes(void **state)
{
    (void)state;
    /* VGA, 3D controller, processing accelerator, co-processor */
    static const char *const classes[] = {"0x030000", "0x030200", "0x120000", "0x0b4000"};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        assert_int_equal(teardown(NULL), 0);
        assert_int_equal(setup(NULL), 0);
        vm_devices();
        assert_int_equal(placement_gpu_possible(pci, dev), 0);
        pci_dev("0000:3b:00.0", classes[i]);
        assert_int_equal(placement_gpu_possible(pci, dev), 1);
    }
    /* a co-processor's neighbours in class 0x0b are not GPUs */
    assert_int_equal(teardown(NULL), 0);
    assert_int_equal(setup(NULL), 0);
    pci_dev("0000:00:07.0", "0x0b3000");
    assert_int_equal(placement_gpu_possible(pci, dev), 0);
}

static void driver_devices_say_yes(void **state)
{
    (void)state;
    static const char *const devs[] = {"nvidiactl", "nvidia0", "kfd", "dri"};
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        assert_int_equal(teardown(NULL), 0);
        assert_int_equal(setup(NULL), 0);
        vm_devices();
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, "%s/%s", dev, devs[i]);
        assert_int_equal(mkdir(p, 0700), 0);
        assert_int_equal(placement_gpu_possible(pci, dev), 1);
    }
}

static void unknown_says_yes(void **state)
{
    (void)state;
    /* no PCI device listed: nothing tells, so hwloc looks */
    assert_int_equal(placement_gpu_possible(pci, dev), 1);
    /* no PCI directory */
    char gone[PATH_MAX * 2];
    snprintf(gone, sizeof gone, "%s/absent", root);
    assert_int_equal(placement_gpu_possible(gone, dev), 1);
    /* a class that cannot be read or parsed */
    vm_devices();
    assert_int_equal(placement_gpu_possible(pci, dev), 0);
    pci_dev("0000:00:09.0", NULL);
    assert_int_equal(placement_gpu_possible(pci, dev), 1);
    assert_int_equal(teardown(NULL), 0);
    assert_int_equal(setup(NULL), 0);
    vm_devices();
    pci_dev("0000:00:09.0", "garbage");
    assert_int_equal(placement_gpu_possible(pci, dev), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_gpu_on_a_vm, setup, teardown),
        cmocka_unit_test_setup_teardown(gpu_classes_say_yes, setup, teardown),
        cmocka_unit_test_setup_teardown(driver_devices_say_yes, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_says_yes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
