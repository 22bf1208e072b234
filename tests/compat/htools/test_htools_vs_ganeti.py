"""gnt htools against Debian's Ganeti 3.0 htools (/usr/bin/hbal etc.).

Small clusters only (Ganeti's hbal is slow).  Checked: the initial score
to 1e-6 (printed with 8 decimals by both), hbal's whole output byte for
byte on clusters without exact ties, an hbal end score no worse than
Ganeti's, hcheck's verdicts, hinfo's output, and hspace's whole output
(every ``HTS_*`` key, human-readable text, node tables, errors) byte for
byte on generated clusters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gnt.htools.generate import GenSpec, generate
from gnt.htools.text import serialize_cluster
from tests.unit.htools.htools_fixtures import SHARED, SMALL

pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(not os.path.exists("/usr/bin/hbal"),
                       reason="Ganeti htools (/usr/bin/hbal, Debian ganeti-htools-3.0) "
                              "not installed"),
]

EDGE_CASES = {
    "small": SMALL,
    "shared": SHARED,
    "question-mark": SMALL.replace("node2|4096|512|3500", "node2|?|512|3500"),
    "offline-node": SMALL.replace("node1|4096|512|3000|102400|80000|8|N|",
                                  "node1|4096|512|3000|102400|80000|8|Y|"),
    "empty-group": SMALL.replace("default|fake-uuid-01|preferred||",
                                 "default|fake-uuid-01|preferred||\nspare|u2|preferred||"),
    "short-columns": SMALL.replace("|fake-uuid-01|1\n", "|fake-uuid-01\n")
                          .replace("|drbd||1\n", "|drbd|\n"),
}
GENERATED = {
    "drbd": GenSpec(nodes=12, instances=80, seed=5, unbalanced=True),
    "mixed": GenSpec(nodes=10, instances=60, seed=7, unbalanced=True,
                     templates={"drbd": 0.6, "plain": 0.1, "sharedfile": 0.2, "ext": 0.1}),
    "tags-offline": GenSpec(nodes=10, instances=60, seed=8, offline=1, tags=True,
                            exclusion=True, locations=True),
    "hetero-down": GenSpec(nodes=10, instances=70, seed=9, heterogeneous=True,
                           down_fraction=0.2, unbalanced=True),
}


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("htools-compat")
    out = {}
    for name, text in EDGE_CASES.items():
        out[name] = d / f"{name}.txt"
        out[name].write_text(text)
    for name, spec in GENERATED.items():
        out[name] = d / f"gen-{name}.txt"
        out[name].write_text(serialize_cluster(generate(spec)))
    return out


def ganeti(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([f"/usr/bin/{tool}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def ours(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gnt.htools", tool, *args],
                          capture_output=True, text=True, timeout=120, check=False)


def _score(out: str, prefix: str) -> float:
    line = next(ln for ln in out.splitlines() if ln.startswith(prefix))
    return float(line.split()[-1])


@pytest.mark.parametrize("name", list(EDGE_CASES) + list(GENERATED))
def test_initial_score_and_hinfo(clusters: dict[str, Path], name: str) -> None:
    ref, mine = ganeti("hinfo", "-t", str(clusters[name])), ours("hinfo", "-t",
                                                                 str(clusters[name]))
    assert ref.returncode == mine.returncode == 0, mine.stderr
    assert abs(_score(ref.stdout, "Cluster score:") - _score(mine.stdout, "Cluster score:")) \
        < 1e-6
    assert mine.stdout == ref.stdout
    assert mine.stderr == ref.stderr


@pytest.mark.parametrize("name", list(EDGE_CASES) + list(GENERATED))
def test_hcheck_verdicts(clusters: dict[str, Path], name: str) -> None:
    for args in (["--machine-readable"], ["--no-simulation"]):
        ref = ganeti("hcheck", "-t", str(clusters[name]), *args)
        mine = ours("hcheck", "-t", str(clusters[name]), *args)
        assert mine.returncode == ref.returncode
        assert mine.stdout == ref.stdout


@pytest.mark.parametrize("name", ["small", "shared", "offline-node", "short-columns"]
                         + list(GENERATED))
@pytest.mark.parametrize("opts", [[], ["--no-disk-moves"], ["--evac-mode"], ["-v", "-v", "-v"]])
def test_hbal_same_output(clusters: dict[str, Path], name: str, opts: list[str]) -> None:
    args = ["-t", str(clusters[name]), "-C", *opts]
    ref, mine = ganeti("hbal", *args), ours("hbal", *args)
    assert mine.returncode == ref.returncode
    if "Cluster score improved from" in ref.stdout:
        assert _score(mine.stdout, "Cluster score improved") <= \
            _score(ref.stdout, "Cluster score improved") + 1e-6
    assert mine.stdout == ref.stdout
    assert mine.stderr == ref.stderr


@pytest.mark.parametrize("name", ["drbd", "mixed", "hetero-down"])
def test_hspace_standard_counts(clusters: dict[str, Path], name: str) -> None:
    args = ["-t", str(clusters[name]), "--machine-readable", "--disk-template", "drbd",
            "--standard-alloc=10240,1024,1"]

    def kv(res: subprocess.CompletedProcess) -> dict[str, str]:
        return dict(ln.split("=", 1) for ln in res.stdout.splitlines() if "=" in ln)
    ref, mine = kv(ganeti("hspace", *args)), kv(ours("hspace", *args))
    for key in ("HTS_INI_SCORE", "HTS_INI_INST_CNT", "HTS_ALLOC_INSTANCES", "HTS_FIN_INST_CNT",
                "HTS_ALLOC_FAIL_REASON", "HTS_CLUSTER_MEM", "HTS_INI_MEM_FREE",
                "HTS_INI_DSK_FREE", "HTS_INI_CPU_INST"):
        assert mine[key] == ref[key], key


def _hspace_case(seed: int, tmp: Path) -> list[str]:
    """A generated cluster and hspace options (tiered spec, template) from ``seed``."""
    import random
    rng = random.Random(seed)
    spec = GenSpec(nodes=rng.randint(3, 10), instances=rng.randint(0, 40), seed=seed,
                   offline=rng.choice([0, 0, 1]), heterogeneous=rng.random() < 0.5,
                   unbalanced=rng.random() < 0.5, down_fraction=rng.choice([0, 0.2]),
                   templates=rng.choice([{"drbd": 1.0}, {"drbd": 0.6, "plain": 0.4}]),
                   node_mem=rng.choice([0, 32768, 65536]))
    path = tmp / f"hs{seed}.txt"
    path.write_text(serialize_cluster(generate(spec)))
    args = ["-t", str(path), "--machine-readable",
            "--tiered-alloc", rng.choice(["102400,8192,4", "51200,4096,2", "204800,16384,8"]),
            "--standard-alloc", rng.choice(["10240,1024,1", "51200,4096,2"]),
            "--disk-template", rng.choice(["drbd", "plain", "diskless"])]
    if rng.random() < 0.2:
        args.append("--no-capacity-checks")
    return args


@pytest.mark.parametrize("seed", range(300, 330))
def test_hspace_tiered_and_standard_same_as_ganeti(tmp_path: Path, seed: int) -> None:
    args = _hspace_case(seed, tmp_path)
    ref, mine = ganeti("hspace", *args), ours("hspace", *args)
    assert mine.returncode == ref.returncode

    # every key (HTS_KM_*, HTS_ALLOC_USAGE included), in Ganeti's order
    assert mine.stdout == ref.stdout
    assert mine.stderr == ref.stderr


def _hspace_case_mixed(seed: int, tmp: Path) -> list[str]:
    """Richer hspace cases: shared-storage and diskless instances next to DRBD
    and plain ones, several groups, tags, offline nodes, every new-instance
    template, human-readable output, ``-p``, ``--independent-groups``."""
    import random
    rng = random.Random(seed)
    templates = rng.choice([{"drbd": 1.0}, {"drbd": 0.5, "plain": 0.3, "sharedfile": 0.2},
                            {"diskless": 0.5, "drbd": 0.5}, {"sharedfile": 0.6, "plain": 0.4}])
    spec = GenSpec(nodes=rng.randint(2, 9), instances=rng.randint(0, 50), seed=seed,
                   offline=rng.choice([0, 0, 1]), heterogeneous=rng.random() < 0.5,
                   unbalanced=rng.random() < 0.5, down_fraction=rng.choice([0, 0.2]),
                   templates=templates, groups=rng.choice([1, 1, 2]),
                   tags=rng.random() < 0.3, exclusion=rng.random() < 0.3,
                   locations=rng.random() < 0.3, node_mem=rng.choice([0, 16384, 32768]))
    path = tmp / f"hsm{seed}.txt"
    path.write_text(serialize_cluster(generate(spec)))
    args = ["-t", str(path),
            "--tiered-alloc", rng.choice(["102400,8192,4", "51200,2048,2", "20480,16384,8"]),
            "--standard-alloc", rng.choice(["10240,1024,1", "51200,4096,2", "1024,512,1"]),
            "--disk-template", rng.choice(["drbd", "plain", "diskless", "sharedfile", "file"])]
    for flag, p in (("--machine-readable", 0.7), ("--no-capacity-checks", 0.2), ("-p", 0.2),
                    ("--independent-groups", 0.2)):
        if rng.random() < p:
            args.append(flag)
    return args


@pytest.mark.parametrize("seed", range(400, 440))
def test_hspace_mixed_clusters_same_as_ganeti(tmp_path: Path, seed: int) -> None:
    """Byte-identical stdout, stderr and exit code (capacity checks with the
    batched allocation, DRBD exempt from per-instance checks, independent
    groups, allocation errors, ``KM_*`` keys, node tables)."""
    args = _hspace_case_mixed(seed, tmp_path)
    ref, mine = ganeti("hspace", *args), ours("hspace", *args)
    assert (mine.returncode, mine.stdout, mine.stderr) == \
        (ref.returncode, ref.stdout, ref.stderr)
