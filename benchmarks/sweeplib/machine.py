"""Where a measurement ran: CPU model, cores, load, library versions, source revision."""
import os
import platform
import subprocess

PACKAGES = {"openmpi": "libopenmpi-dev", "hdf5": "libhdf5-openmpi-dev", "mujoco": "libmujoco-dev",
            "libtorch": "libtorch-dev"}


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def library_versions():
    """{library: Debian package version} ("unknown" off Debian)."""
    return {name: _output(["dpkg-query", "-W", "-f=${Version}", package]) or "unknown"
            for name, package in PACKAGES.items()}


def git_revision(root):
    sha = _output(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"]) or "unknown"
    dirty = _output(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return sha + ("-dirty" if dirty else "")


def describe(root):
    """The static part, measured once per point (a Slurm task may run on another node)."""
    return {"host": platform.node(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
            **library_versions(), "git": git_revision(root)}


def load_average():
    return os.getloadavg()[0]
