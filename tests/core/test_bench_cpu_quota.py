"""`bench/cpu_quota.py`: the quota a number of cores makes, which hierarchy it is written to, and (where this
machine lets a test make cgroups, as root on the development host and CI) that a child started inside the
group is limited by it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import cpu_quota  # noqa: E402

HYBRID = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""


@pytest.mark.parametrize(("cores", "quota"), [(1.5, 15_000), (1.1, 11_000), (2, 20_000), (0.01, 1_000)])
def test_quota_is_cores_times_the_period_at_least_the_kernels_minimum(cores, quota):
    assert cpu_quota.quota_us(cores) == quota


@pytest.mark.parametrize("cores", [0, -1, float("nan")])
def test_a_quota_of_no_cores_is_refused(cores):
    with pytest.raises(ValueError, match="positive number of cores"):
        cpu_quota.quota_us(cores)


def test_v1_cpu_mount_is_found_on_a_hybrid_host():
    assert cpu_quota.find_hierarchy(HYBRID) == cpu_quota.Hierarchy(Path("/sys/fs/cgroup/cpu"), v2=False)


def test_v2_mount_is_used_only_when_it_offers_cpu(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")
    mounts = f"cgroup2 {tmp_path} cgroup2 rw 0 0\n"
    assert cpu_quota.find_hierarchy(mounts) is None
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    assert cpu_quota.find_hierarchy(mounts) == cpu_quota.Hierarchy(tmp_path, v2=True)


def test_no_cpu_hierarchy_is_an_error_not_an_unlimited_run(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    with pytest.raises(cpu_quota.QuotaUnavailable, match="no cgroup hierarchy"):
        with cpu_quota.limited_to(1.5, mounts):
            pass


def test_an_unwritable_hierarchy_is_an_error_naming_it(tmp_path):
    root = tmp_path / "cpu"
    root.mkdir()
    root.chmod(0o500)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"cgroup {root} cgroup rw,cpu 0 0\n")
    try:
        if os.access(root, os.W_OK):        # root ignores the mode: nothing to show here
            pytest.skip("this user can write any folder")
        with pytest.raises(cpu_quota.QuotaUnavailable, match=str(root)):
            with cpu_quota.limited_to(1.5, mounts):
                pass
    finally:
        root.chmod(0o700)


def _can_make_groups() -> bool:
    found = cpu_quota.find_hierarchy(Path("/proc/self/mounts").read_text())
    return found is not None and os.access(found.root, os.W_OK)


@pytest.mark.skipif(not _can_make_groups(), reason="no writable CPU cgroup on this machine")
def test_a_child_started_inside_is_in_the_group_with_its_quota_and_the_group_goes_after():
    with cpu_quota.limited_to(1.5) as group:
        child = subprocess.run([sys.executable, "-c", "print(open('/proc/self/cgroup').read())"],
                               capture_output=True, text=True, check=True)
        assert group.name in child.stdout
        quota = (group / "cpu.max").read_text().split()[0] if (group / "cpu.max").exists() \
            else (group / "cpu.cfs_quota_us").read_text().strip()
        assert quota == "15000"
    assert not group.exists()
    assert group.name not in Path("/proc/self/cgroup").read_text()
