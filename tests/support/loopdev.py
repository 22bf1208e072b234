"""Loop devices for blockdev tests: sparse files under a temporary directory
attached with ``losetup``, detached again by the fixture (needs root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

MIB = 1024 * 1024


class LoopDevices:
    """Makes loop devices and persistent-style names for them under node roots."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.devices: list[str] = []

    def make(self, size_mib: int, fill: bytes | None = None) -> str:
        """A new loop device of ``size_mib`` MiB (its first bytes ``fill``)."""
        img = self.workdir / f"loop{len(self.devices)}.img"
        with open(img, "wb") as f:
            f.truncate(size_mib * MIB)
            if fill:
                f.write(fill)
        res = subprocess.run(["losetup", "--find", "--show", str(img)], capture_output=True,
                             text=True, check=False)
        if res.returncode != 0:
            pytest.skip(f"cannot attach a loop device: {res.stderr.strip()}")
        dev = res.stdout.strip()
        self.devices.append(dev)
        return dev

    @staticmethod
    def name(root: Path, dev: str, alias: str) -> str:
        """Create ``<root>/dev/disk/by-id/<alias>`` -> ``dev``; returns the cluster
        path ``/dev/disk/by-id/<alias>``."""
        link = root / "dev/disk/by-id" / alias
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(dev)
        return f"/dev/disk/by-id/{alias}"

    @staticmethod
    def read(dev: str, n: int) -> bytes:
        with open(dev, "rb") as f:
            return f.read(n)

    def cleanup(self) -> None:
        for dev in self.devices:
            subprocess.run(["losetup", "-d", dev], capture_output=True, check=False)
        self.devices.clear()


def loop_devices(factory: pytest.TempPathFactory) -> Iterator[LoopDevices]:
    """Body of a ``loopdevs`` fixture: loop devices for one test, detached
    afterwards; skips the test without root or losetup."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("loop devices need root and losetup")
    loops = LoopDevices(factory.mktemp("loops"))
    try:
        yield loops
    finally:
        loops.cleanup()
