#!/usr/bin/env python3
"""Writes the hwloc XML fixtures of the placement tests.

topo-2numa-4gpu.xml (default): two packages, each with one NUMA node (64 GiB), four cores of
two hardware threads numbered the way Linux numbers them (siblings are PU n and PU n+8), and
two NVIDIA GPUs behind each package's host bridge (cuda0/nvml0 .. cuda3/nvml3). Package 0
also has the board's ASPEED VGA controller (a DRM "card0" device) that must not count as a
GPU.

topo-mixed-gpus.xml ("mixed"): one package, one NUMA node (32 GiB), four single-threaded
cores, and GPUs the way an hwloc without vendor plugins sees them: an NVIDIA GPU with only
its DRM device (card1), one with no OS device at all, an Intel GPU with a Level Zero device
(ze0), an AMD GPU with ROCm SMI and OpenCL devices (rsmi0, opencl0d0); plus what is not a
GPU: the NVIDIA GPU's audio function and an Intel integrated display with only card0.

    python3 tests/resources/gen_topology.py > tests/resources/topo-2numa-4gpu.xml
    python3 tests/resources/gen_topology.py mixed > tests/resources/topo-mixed-gpus.xml
"""
import sys

gp = [0]


def nxt():
    gp[0] += 1
    return gp[0]


def mask(bits):
    v = 0
    for b in bits:
        v |= 1 << b
    return "0x%08x" % v


def obj(typ, attrs, children=(), indent=2):
    pad = "  " * indent
    a = " ".join('%s="%s"' % kv for kv in attrs)
    if not children:
        return "%s<object type=\"%s\" %s/>\n" % (pad, typ, a)
    return "%s<object type=\"%s\" %s>\n%s%s</object>\n" % (pad, typ, a, "".join(children), pad)


def info(name, value, indent):
    return '%s<info name="%s" value="%s"/>\n' % ("  " * indent, name, value)


def osdev(name, osdev_type, subtype, infos, indent):
    attrs = [("gp_index", nxt()), ("name", name)]
    if subtype:
        attrs.append(("subtype", subtype))
    attrs.append(("osdev_type", osdev_type))
    return obj("OSDev", attrs, [info(k, v, indent + 1) for k, v in infos], indent)


def gpu(busid, n, indent):
    kids = [info("PCIVendor", "NVIDIA Corporation", indent + 1),
            info("PCIDevice", "GH100 [H100 SXM5 80GB]", indent + 1),
            osdev("cuda%d" % n, 5, "CUDA", [("Backend", "CUDA"), ("GPUVendor", "NVIDIA Corporation"),
                                            ("GPUModel", "NVIDIA H100 80GB HBM3")], indent + 1),
            osdev("nvml%d" % n, 1, "NVML", [("Backend", "NVML"), ("GPUVendor", "NVIDIA Corporation"),
                                            ("GPUModel", "NVIDIA H100 80GB HBM3"),
                                            ("NVIDIAUUID", "GPU-0000000%d-1111-2222-3333-444444444444" % n)],
                  indent + 1)]
    return obj("PCIDev", [("gp_index", nxt()), ("pci_busid", busid),
                          ("pci_type", "0302 [10de:2330] [10de:16c1] a1"), ("pci_link_speed", "31.507692")],
               kids, indent)


def aspeed(indent):
    kids = [info("PCIVendor", "ASPEED Technology, Inc.", indent + 1),
            info("PCIDevice", "ASPEED Graphics Family", indent + 1),
            osdev("card0", 1, None, [], indent + 1)]
    return obj("PCIDev", [("gp_index", nxt()), ("pci_busid", "0000:03:00.0"),
                          ("pci_type", "0300 [1a03:2000] [15d9:1b3c] 52"), ("pci_link_speed", "0.250000")],
               kids, indent)


def package(p):
    cores = range(4 * p, 4 * p + 4)
    pus = [c for c in cores] + [c + 8 for c in cores]
    cs = mask(pus)
    ns = mask([p])
    common = [("cpuset", cs), ("complete_cpuset", cs), ("nodeset", ns), ("complete_nodeset", ns)]
    kids = [obj("NUMANode", [("os_index", p)] + common + [("gp_index", nxt()),
                                                          ("local_memory", 64 << 30)], (), 3)]
    for c in cores:
        ccs = mask([c, c + 8])
        core_kids = [obj("PU", [("os_index", u), ("cpuset", mask([u])), ("complete_cpuset", mask([u])),
                                ("nodeset", ns), ("complete_nodeset", ns), ("gp_index", nxt())], (), 4)
                     for u in (c, c + 8)]
        kids.append(obj("Core", [("os_index", c), ("cpuset", ccs), ("complete_cpuset", ccs), ("nodeset", ns),
                                 ("complete_nodeset", ns), ("gp_index", nxt())], core_kids, 3))
    if p == 0:
        devs = [aspeed(4), gpu("0000:17:00.0", 0, 4), gpu("0000:31:00.0", 1, 4)]
        rng = "0000:[00-3f]"
    else:
        devs = [gpu("0000:b1:00.0", 2, 4), gpu("0000:ca:00.0", 3, 4)]
        rng = "0000:[80-ff]"
    kids.append(obj("Bridge", [("gp_index", nxt()), ("bridge_type", "0-1"), ("depth", 0), ("bridge_pci", rng)],
                    devs, 3))
    return obj("Package", [("os_index", p)] + common + [("gp_index", nxt())], kids, 2)


def pcidev(busid, pci_type, vendor, device, osdevs, indent):
    kids = [info("PCIVendor", vendor, indent + 1), info("PCIDevice", device, indent + 1)]
    kids += [osdev(n, t, st, inf, indent + 1) for n, t, st, inf in osdevs]
    return obj("PCIDev", [("gp_index", nxt()), ("pci_busid", busid), ("pci_type", pci_type),
                          ("pci_link_speed", "15.753846")], kids, indent)


def mixed():
    allc = mask(range(4))
    n0 = mask([0])
    common = [("cpuset", allc), ("complete_cpuset", allc), ("nodeset", n0), ("complete_nodeset", n0)]
    cores = []
    for c in range(4):
        cs = mask([c])
        pu = obj("PU", [("os_index", c), ("cpuset", cs), ("complete_cpuset", cs), ("nodeset", n0),
                        ("complete_nodeset", n0), ("gp_index", nxt())], (), 4)
        cores.append(obj("Core", [("os_index", c), ("cpuset", cs), ("complete_cpuset", cs), ("nodeset", n0),
                                  ("complete_nodeset", n0), ("gp_index", nxt())], [pu], 3))
    devs = [
        pcidev("0000:00:02.0", "0300 [8086:4680] [8086:2212] 0c", "Intel Corporation", "AlderLake-S GT1",
               [("card0", 1, None, [])], 4),
        pcidev("0000:21:00.0", "0300 [10de:2684] [10de:16f3] a1", "NVIDIA Corporation", "AD102 [GeForce RTX 4090]",
               [("card1", 1, None, []), ("renderD129", 1, None, [])], 4),
        pcidev("0000:21:00.1", "0403 [10de:22ba] [10de:16f3] a1", "NVIDIA Corporation", "AD102 High Definition Audio Controller",
               [], 4),
        pcidev("0000:41:00.0", "0302 [10de:20b5] [10de:1533] a1", "NVIDIA Corporation", "GA100 [A100 PCIe 80GB]", [], 4),
        pcidev("0000:81:00.0", "0380 [8086:0bd5] [8086:0000] 2f", "Intel Corporation", "Ponte Vecchio XT",
               [("ze0", 5, "LevelZero", [("GPUModel", "Intel(R) Data Center GPU Max 1550")])], 4),
        pcidev("0000:c1:00.0", "0380 [1002:740f] [1002:0c34] 02", "Advanced Micro Devices, Inc. [AMD/ATI]", "Aldebaran/MI200",
               [("rsmi0", 1, "RSMI", [("GPUModel", "AMD Instinct MI210"), ("AMDUUID", "8c1a6f00-0000-0000-0000-000000000000")]),
                ("opencl0d0", 5, "OpenCL", [("OpenCLDeviceType", "GPU"), ("GPUModel", "gfx90a")])], 4),
    ]
    bridge = obj("Bridge", [("gp_index", nxt()), ("bridge_type", "0-1"), ("depth", 0), ("bridge_pci", "0000:[00-ff]")],
                 devs, 3)
    numa = obj("NUMANode", [("os_index", 0)] + common + [("gp_index", nxt()), ("local_memory", 32 << 30)], (), 3)
    pkg = obj("Package", [("os_index", 0)] + common + [("gp_index", nxt())], [numa] + cores + [bridge], 2)
    body = [info("Backend", "Linux", 2), info("HostName", "mixed-fixture", 2), pkg]
    machine = obj("Machine", [("os_index", 0)] + common[:2] + [("allowed_cpuset", allc)] + common[2:] +
                  [("allowed_nodeset", n0), ("gp_index", nxt())], body, 1)
    return machine


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "mixed":
        machine = mixed()
        print('<?xml version="1.0" encoding="UTF-8"?>')
        print('<!DOCTYPE topology SYSTEM "hwloc2.dtd">')
        print('<topology version="2.0">')
        print(machine, end="")
        print('</topology>')
        return
    allc = mask(range(16))
    alln = mask([0, 1])
    body = [info("Backend", "Linux", 2), info("OSName", "Linux", 2), info("HostName", "gpu-fixture", 2),
            info("Architecture", "x86_64", 2), package(0), package(1)]
    machine = obj("Machine", [("os_index", 0), ("cpuset", allc), ("complete_cpuset", allc),
                              ("allowed_cpuset", allc), ("nodeset", alln), ("complete_nodeset", alln),
                              ("allowed_nodeset", alln), ("gp_index", nxt())], body, 1)
    print('<?xml version="1.0" encoding="UTF-8"?>')
    print('<!DOCTYPE topology SYSTEM "hwloc2.dtd">')
    print('<topology version="2.0">')
    print(machine, end="")
    print('</topology>')


main()
