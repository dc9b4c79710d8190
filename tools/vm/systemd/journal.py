#!/usr/bin/env python3
"""confcamd's journal from the console of tools/vm-systemd-test, readable.

The VM prints `journalctl -u confcamd -o json` as "VMLOG " lines (JSON keeps
the daemon's structured fields, which `-o cat` drops: tracing-journald puts
`error=…` into F_ERROR, not into MESSAGE). Writes one line per entry to
OUT ("[uptime] identifier: message key=value ..."), and prints the warnings
and errors (priority 4 and below) on stdout, one per line. "VMAUDIT " lines
(seccomp's audit records, CONFCAM_VM_SYSCALLS=log) are printed with the
system call's name; the one from /usr/sbin/chroot is the VM's control.

usage: journal.py CONSOLE OUT
"""
import json
import re
import sys
from pathlib import Path


def text(value):
    # journalctl gives non-UTF-8 or control-character values as byte lists.
    if isinstance(value, list):
        return bytes(value).decode(errors="replace")
    return str(value)


def syscall_names():
    names = {}
    for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
        try:
            for m in re.finditer(r"#define __NR_(\w+) (\d+)", Path(header).read_text()):
                names[int(m.group(2))] = m.group(1)
            return names
        except OSError:
            continue
    return names


def main():
    console, out = Path(sys.argv[1]), Path(sys.argv[2])
    lines = console.read_text(errors="replace").splitlines()
    entries = []
    for line in lines:
        if not line.startswith("VMLOG "):
            continue
        try:
            entries.append(json.loads(line[6:]))
        except json.JSONDecodeError:
            entries.append({"MESSAGE": line[6:], "PRIORITY": "6"})
    with out.open("w") as f:
        for e in entries:
            t = int(e.get("__MONOTONIC_TIMESTAMP", 0)) / 1e6
            fields = " ".join(f"{k[2:].lower()}={text(v)!r}" for k, v in e.items() if k.startswith("F_"))
            line = f"[{t:9.3f}] {text(e.get('SYSLOG_IDENTIFIER', '?'))}: {text(e.get('MESSAGE', ''))} {fields}".rstrip()
            f.write(line + "\n")
            if int(e.get("PRIORITY", 6)) <= 4:
                print(line)
    names = syscall_names()
    for line in lines:
        m = re.match(r"VMAUDIT .*\bsyscall=(\d+)", line)
        if m:
            print(f"seccomp would deny {names.get(int(m.group(1)), m.group(1))}: {line[8:]}")


if __name__ == "__main__":
    main()
