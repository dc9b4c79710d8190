"""tools/flash against a fake /sys and /proc, with regular files standing in
for the disks. Run: python3 -m unittest discover -s tools/flash-tests -v"""

import bz2
import hashlib
import importlib.machinery
import importlib.util
import lzma
import os
import random
import shutil
import subprocess
import tempfile
import unittest

FLASH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flash")
MIB = 1 << 20


class Machine:
    """A fake machine: disks under sys/, their mounts in proc/, their
    'device nodes' as regular files in dev/."""

    def __init__(self, root):
        self.root = root
        self.sys, self.proc, self.dev = (os.path.join(root, d) for d in ("sys", "proc", "dev"))
        for d in (self.dev, os.path.join(self.proc, "self"), os.path.join(self.sys, "dev", "block")):
            os.makedirs(d)
        self.mountinfo = []
        self.major = 8

    def disk(self, name, size, bus="usb", removable=True, parts=0, model="SD Reader"):
        major, self.major = self.major, self.major + 1
        real = os.path.join(self.sys, "devices", "pci0000:00", f"{bus}1", "1-1", "host0", "block", name)
        os.makedirs(os.path.join(real, "device"))
        write(os.path.join(real, "size"), str(size // 512))
        write(os.path.join(real, "removable"), "1" if removable else "0")
        write(os.path.join(real, "dev"), f"{major}:0")
        write(os.path.join(real, "device", "model"), model)
        os.makedirs(os.path.join(self.sys, "block"), exist_ok=True)
        os.symlink(real, os.path.join(self.sys, "block", name))
        os.symlink(real, os.path.join(self.sys, "dev", "block", f"{major}:0"))
        for i in range(1, parts + 1):
            part = os.path.join(real, f"{name}{i}")
            os.makedirs(part)
            write(os.path.join(part, "partition"), str(i))
            write(os.path.join(part, "dev"), f"{major}:{i}")
            write(os.path.join(part, "size"), str(size // 512 // (parts + 1)))
            os.symlink(part, os.path.join(self.sys, "dev", "block", f"{major}:{i}"))
            os.makedirs(os.path.join(self.sys, "class", "block", f"{name}{i}"))
            write(os.path.join(self.sys, "class", "block", f"{name}{i}", "partition"), str(i))
        with open(os.path.join(self.dev, name), "wb") as f:
            f.truncate(size)
        return major

    def mount(self, number, point):
        self.mountinfo.append(f"{len(self.mountinfo) + 20} 1 {number} / {point} rw,relatime - ext4 /dev/x rw")
        write(os.path.join(self.proc, "self", "mountinfo"), "\n".join(self.mountinfo) + "\n")

    def flash(self, *args, stdin=subprocess.DEVNULL):
        env = dict(os.environ, CONFCAM_FLASH_SYSFS=self.sys, CONFCAM_FLASH_PROC=self.proc, CONFCAM_FLASH_DEV=self.dev)
        return subprocess.run([FLASH, *args], env=env, stdin=stdin, capture_output=True, text=True, timeout=60)

    def contents(self, name, length):
        with open(os.path.join(self.dev, name), "rb") as f:
            return f.read(length)


def load_flash():
    """tools/flash as a module, for its helpers."""
    loader = importlib.machinery.SourceFileLoader("flash", FLASH)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("flash", loader))
    loader.exec_module(module)
    return module


def write(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


class FlashTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.m = Machine(os.path.join(self.tmp, "machine"))
        # The system disk, mounted at /; an SD card in a USB reader.
        system = self.m.disk("nvme0n1", 512 * MIB, bus="pci", removable=False, parts=2, model="Samsung SSD")
        self.m.mount(f"{system}:2", "/")
        self.m.mount(f"{system}:1", "/boot/efi")
        self.card = self.m.disk("sdz", 64 * MIB, parts=2)
        self.data = random.Random(7).randbytes(3 * MIB + 12345)
        self.image = os.path.join(self.tmp, "confcam-image-raspberrypi4-64.rootfs.wic")
        with open(self.image, "wb") as f:
            f.write(self.data)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def refused(self, result, why):
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("refused", result.stderr)
        self.assertIn(why, result.stderr)

    def written(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("written and checked", result.stderr)
        self.assertEqual(self.m.contents("sdz", len(self.data)), self.data)

    def test_writes_and_verifies_a_plain_image(self):
        result = self.m.flash(self.image, "/dev/sdz", "--yes")
        self.written(result)
        self.assertIn("MB/s", result.stderr, "a progress line")
        self.assertIn("SD Reader", result.stderr, "shows what it overwrites")

    def test_bz2_and_xz_images_are_decompressed_on_the_way(self):
        for suffix, compress in ((".bz2", bz2.compress), (".xz", lzma.compress)):
            with self.subTest(suffix):
                with open(self.m.dev + "/sdz", "r+b") as f:
                    f.write(bytes(len(self.data)))
                packed = self.image + suffix
                with open(packed, "wb") as f:
                    f.write(compress(self.data))
                self.written(self.m.flash(packed, "/dev/sdz", "--yes"))

    def test_refuses_the_system_disk(self):
        self.refused(self.m.flash(self.image, "/dev/nvme0n1", "--yes"), "holds the running system")

    def test_refuses_a_mounted_card(self):
        self.m.mount(f"{self.card}:1", "/media/user/boot")
        self.refused(self.m.flash(self.image, "/dev/sdz", "--yes"), "mounted at /media/user/boot")
        self.assertEqual(self.m.contents("sdz", 16), bytes(16), "nothing written")

    def test_refuses_a_disk_that_is_not_removable(self):
        self.m.disk("sdy", 64 * MIB, bus="ata", removable=False)
        self.refused(self.m.flash(self.image, "/dev/sdy", "--yes"), "not a removable disk")

    def test_a_card_in_a_built_in_reader_counts_as_removable(self):
        self.m.disk("mmcblk0", 64 * MIB, bus="mmc", removable=False)
        result = self.m.flash(self.image, "/dev/mmcblk0", "--yes")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.m.contents("mmcblk0", len(self.data)), self.data)

    def test_refuses_an_oversized_disk_unless_forced(self):
        self.refused(self.m.flash(self.image, "/dev/sdz", "--yes", "--max-size", "0.03"), "--force")
        self.written(self.m.flash(self.image, "/dev/sdz", "--yes", "--max-size", "0.03", "--force"))

    def test_refuses_a_partition(self):
        self.refused(self.m.flash(self.image, "/dev/sdz1", "--yes"), "is a partition")

    def test_refuses_an_image_bigger_than_the_card(self):
        self.m.disk("sdx", 2 * MIB)
        self.refused(self.m.flash(self.image, "/dev/sdx", "--yes"), "bigger than /dev/sdx")

    def test_asks_first_and_writes_nothing_unconfirmed(self):
        self.refused(self.m.flash(self.image, "/dev/sdz"), "pass --yes")
        self.assertEqual(self.m.contents("sdz", 16), bytes(16))

    def test_verify_catches_a_card_that_reads_back_wrong(self):
        flash = load_flash()
        card = os.path.join(self.tmp, "card")
        shutil.copy(self.image, card)
        digest = hashlib.sha256(self.data).hexdigest()
        self.assertTrue(flash.verify(card, len(self.data), digest))
        with open(card, "r+b") as f:
            f.seek(MIB)
            f.write(b"\xff")
        self.assertFalse(flash.verify(card, len(self.data), digest))

    @unittest.skipUnless(shutil.which("bmaptool"), "bmaptool (bmap-tools) is not installed")
    def test_a_bmap_beside_the_image_hands_the_writing_to_bmaptool(self):
        # A sparse image: 1 MiB of data, a 4 MiB hole, 1 MiB of data.
        sparse = os.path.join(self.tmp, "sparse.wic")
        with open(sparse, "wb") as f:
            f.write(self.data[:MIB])
            f.seek(5 * MIB)
            f.write(self.data[MIB : 2 * MIB])
        subprocess.run(["bmaptool", "create", "-o", sparse + ".bmap", sparse], check=True, capture_output=True)
        with open(sparse, "rb") as f:
            expected = f.read()
        with open(sparse + ".xz", "wb") as f:
            f.write(lzma.compress(expected))
        self.assertEqual(load_flash().bmap_for(sparse + ".xz"), sparse + ".bmap")
        result = self.m.flash(sparse + ".xz", "/dev/sdz", "--yes")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("bmaptool", result.stderr)
        self.assertEqual(self.m.contents("sdz", MIB), expected[:MIB])
        self.assertEqual(self.m.contents("sdz", 6 * MIB)[5 * MIB :], expected[5 * MIB :])


if __name__ == "__main__":
    unittest.main()
