#!/usr/bin/env python3
"""The Raspberry Pi firmware's choice of slot, played on the host for
tools/vm-update-test: reads autoboot.txt from the disk's first partition,
takes [tryboot]'s boot_partition when the last reboot asked for tryboot and
[all]'s otherwise (tryboot_a_b=1), reads that partition's config.txt, keeps
the cmdline= of its [boot_partition=N] section, and prints that file: the
kernel command line the slot boots with.

    firmware.py DISK TRYBOOT(0|1)
"""
import json
import subprocess
import sys


def partitions(disk):
    table = json.loads(subprocess.run(["sfdisk", "--json", disk], check=True, capture_output=True, text=True).stdout)
    return {int(p["node"][len(disk):]): p["start"] * 512 for p in table["partitiontable"]["partitions"]}


def read(disk, offset, name):
    return subprocess.run(["mtype", "-i", f"{disk}@@{offset}", f"::{name}"], check=True, capture_output=True, text=True).stdout


def sections(text):
    """(section, key, value) for each setting, as the firmware reads them."""
    section = "all"
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line:
            key, value = line.split("=", 1)
            yield section, key.strip(), value.strip()


def main():
    disk, tryboot = sys.argv[1], sys.argv[2] == "1"
    parts = partitions(disk)
    boot = None
    for section, key, value in sections(read(disk, parts[1], "autoboot.txt")):
        if key == "boot_partition" and (section == "all" or (section == "tryboot" and tryboot)):
            boot = int(value)
    cmdline = "cmdline.txt"
    for section, key, value in sections(read(disk, parts[boot], "config.txt")):
        if key == "cmdline" and section in ("all", f"boot_partition={boot}"):
            cmdline = value
    print(read(disk, parts[boot], cmdline).strip(), f"confcam.boot_partition={boot}")


main()
