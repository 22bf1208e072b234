"""OS definitions: discovery, validation, names, variants and parameter checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gnt import errors, osdef, paths
from gnt.osdef import definition

pytestmark = pytest.mark.unit

SCRIPTS = ("create", "import", "export", "rename", "verify")


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    return tmp_path


def make_os(root: Path, name: str, api: str = "20\n", variants: str | None = "a\nb\n",
            params: str | None = "", scripts: tuple[str, ...] = SCRIPTS,
            mode: int = 0o755) -> Path:
    """An OS dir under <root>/srv/ganeti/os with trivial scripts."""
    d = root / "srv/ganeti/os" / name
    d.mkdir(parents=True)
    (d / "ganeti_api_version").write_text(api)
    if variants is not None:
        (d / "variants.list").write_text(variants)
    if params is not None:
        (d / "parameters.list").write_text(params)
    for s in scripts:
        (d / s).write_text("#!/bin/sh\nexit 0\n")
        (d / s).chmod(mode)
    return d


def test_valid_os_fields(root: Path) -> None:
    d = make_os(root, "deb", api="20\n15\n",
                variants="# comment\n\nbookworm\n  trixie  \n#sid\n",
                params="dhcp Whether to use DHCP (yes/no)\nroot-size\tSize of /, GiB\nbare\n")
    osd = osdef.find("deb+trixie")
    assert osd.valid and osd.diagnose == ""
    assert osd.name == "deb" and osd.path == str(d)
    assert osd.api_versions == [20, 15] and osd.api_version == 20
    assert osd.variants == ["bookworm", "trixie"]
    assert osd.parameters == [("dhcp", "Whether to use DHCP (yes/no)"),
                              ("root-size", "Size of /, GiB"), ("bare", "")]
    assert osd.parameter_names == ["dhcp", "root-size", "bare"]
    assert osd.trusted is True
    assert osd.scripts == {s: str(d / s) for s in SCRIPTS}
    assert osd.script("create") == str(d / "create")


def test_api_version_is_highest_common(root: Path) -> None:
    make_os(root, "future", api="30\n15\n10\n", params=None, scripts=SCRIPTS[:4])
    osd = osdef.find("future")
    # the newest listed version (30) decides which files are required:
    # verify and parameters.list are required from 20 on
    assert not osd.valid and "verify" in osd.diagnose
    make_os(root, "mixed", api="25\n15\n")
    osd = osdef.find("mixed")
    assert osd.valid and osd.api_version == 15


@pytest.mark.parametrize("setup, reason", [
    (lambda d: (d / "ganeti_api_version").unlink(), "ganeti_api_version' not found"),
    (lambda d: (d / "ganeti_api_version").write_text("twenty\n"), "can't be converted"),
    (lambda d: (d / "ganeti_api_version").write_text("5\n"), "API version mismatch"),
    (lambda d: (d / "ganeti_api_version").write_text(""), "API version mismatch"),
    (lambda d: (d / "import").unlink(), "File 'import' under path"),
    (lambda d: (d / "rename").chmod(0o644), "'rename' under path '{d}' is not executable"),
    (lambda d: (d / "verify").unlink(), "File 'verify'"),
    (lambda d: (d / "parameters.list").unlink(), "File 'parameters.list'"),
    (lambda d: ((d / "export").unlink(), (d / "export").mkdir()), "not a regular file"),
    (lambda d: (d / "create").unlink(), "A create script (trusted or untrusted)"),
])
def test_invalid_os_reasons(root: Path, setup, reason: str) -> None:  # type: ignore[no-untyped-def]
    d = make_os(root, "bad")
    setup(d)
    osd = osdef.find("bad")
    assert not osd.valid
    assert reason.format(d=d) in osd.diagnose
    assert osd.variants == [] and osd.parameters == [] and osd.api_versions == []
    with pytest.raises(errors.OpPrereqError) as ei:
        osdef.get("bad")
    assert ei.value.ecode == errors.ECODE_ENVIRON
    assert reason.format(d=d) in str(ei.value)


def test_older_api_needs_no_verify_nor_parameters(root: Path) -> None:
    make_os(root, "old15", api="15\n", params=None, scripts=SCRIPTS[:4])
    make_os(root, "old10", api="10\n", variants="ignored\n", params=None, scripts=SCRIPTS[:4])
    o15, o10 = osdef.find("old15"), osdef.find("old10")
    assert o15.valid and o15.variants == ["a", "b"] and "verify" not in o15.scripts
    # variants.list is an API 15 feature: not read for API 10
    assert o10.valid and o10.variants == [] and o10.api_version == 10


def test_untrusted_os(root: Path) -> None:
    d = make_os(root, "helper", scripts=("import", "export", "rename", "verify"))
    (d / "create_untrusted").write_text("#!/bin/sh\n")
    (d / "create_untrusted").chmod(0o755)
    osd = osdef.find("helper")
    assert osd.valid and osd.trusted is False
    assert "create" not in osd.scripts and "create_untrusted" in osd.scripts
    with pytest.raises(errors.OpExecError, match="no 'create' script"):
        osd.script("create")
    # both scripts: still untrusted (Ganeti's rule: create_untrusted present)
    make_os(root, "both")
    (root / "srv/ganeti/os/both/create_untrusted").write_text("#!/bin/sh\n")
    (root / "srv/ganeti/os/both/create_untrusted").chmod(0o755)
    assert osdef.find("both").trusted is False
    assert osdef.find("both").scripts["create"].endswith("/both/create")


def test_missing_os(root: Path) -> None:
    osd = osdef.find("nope+x")
    assert not osd.valid and osd.name == "nope" and "not found" in osd.diagnose
    with pytest.raises(errors.OpPrereqError) as ei:
        osdef.get("nope")
    assert ei.value.ecode == errors.ECODE_NOENT
    assert not osdef.find("../etc").valid


def test_diagnose_lists_valid_and_invalid(root: Path) -> None:
    make_os(root, "good")
    d = make_os(root, "broken")
    (d / "export").chmod(0o644)
    make_os(root, ".hidden")
    (root / "srv/ganeti/os/stray-file").write_text("x")
    result = osdef.diagnose()
    assert [o.name for o in result] == ["broken", "good", "stray-file"]
    by_name = {o.name: o for o in result}
    assert by_name["good"].valid
    assert not by_name["broken"].valid and "not executable" in by_name["broken"].diagnose
    assert not by_name["stray-file"].valid
    # results are plain data (they travel over RPC)
    again = definition.OSDefinition.model_validate_json(by_name["good"].model_dump_json())
    assert again == by_name["good"]


def test_diagnose_search_path_order_and_missing_dirs(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    make_os(tmp_path, "x")  # under srv/ganeti/os, not in this search path
    for top in (first, second):
        d = top / "dup"
        d.mkdir(parents=True)
    (second / "dup" / "ganeti_api_version").write_text("20\n")
    result = osdef.diagnose([first, second, tmp_path / "absent"])
    assert [(o.name, o.path) for o in result] == [("dup", str(first / "dup")),
                                                  ("dup", str(second / "dup"))]
    # find() takes the first directory holding the name
    assert osdef.find("dup", [first, second]).path == str(first / "dup")


def test_default_search_path_is_under_root(root: Path) -> None:
    assert paths.get().os_search_path == [root / "srv/ganeti/os"]
    assert osdef.diagnose() == []


def test_split_name() -> None:
    assert osdef.split_name("debian+bookworm") == ("debian", "bookworm")
    assert osdef.split_name("debian") == ("debian", "")
    assert osdef.split_name("a+b+c") == ("a", "b+c")


def test_resolve_variant(root: Path) -> None:
    make_os(root, "v", variants="first\nsecond\n")
    make_os(root, "novar", variants=None)
    make_os(root, "old", api="10\n", params=None, scripts=SCRIPTS[:4])
    v, novar, old = osdef.find("v"), osdef.find("novar"), osdef.find("old")
    assert osdef.resolve_variant(v, "v") == "first"
    assert osdef.resolve_variant(v, "v+second") == "second"
    with pytest.raises(errors.OpPrereqError, match="Unsupported variant 'third'.*allowed: "
                                                    "first, second") as ei:
        osdef.resolve_variant(v, "v+third")
    assert ei.value.ecode == errors.ECODE_INVAL
    assert osdef.resolve_variant(v, "v+third", force=True) == "third"
    assert osdef.resolve_variant(novar, "novar") == ""
    with pytest.raises(errors.OpPrereqError, match="doesn't support variants"):
        osdef.resolve_variant(novar, "novar+x")
    assert osdef.resolve_variant(novar, "novar+x", force=True) == "x"
    assert osdef.resolve_variant(old, "old") == ""
    assert osdef.resolve_variant(old, "old+x", force=True) == ""


def test_check_osparams(root: Path) -> None:
    make_os(root, "p", params="dhcp use dhcp\nroot-size size\n")
    make_os(root, "old", api="15\n", params=None, scripts=SCRIPTS[:4])
    osd = osdef.find("p")
    osdef.check_osparams(osd, {"dhcp": "yes", "root-size": "8"})
    osdef.check_osparams(osd, {})
    with pytest.raises(errors.ParameterError) as ei:
        osdef.check_osparams(osd, {"dhcp": "no", "colour": "red", "alpha": "1"})
    msg = str(ei.value)
    assert "alpha, colour" in msg and "allowed: dhcp, root-size" in msg
    # API < 20 has no parameter list; Ganeti does not check those
    osdef.check_osparams(osdef.find("old"), {"anything": "1"})
    make_os(root, "none", params="")
    with pytest.raises(errors.ParameterError, match=r"allowed: \(none\)"):
        osdef.check_osparams(osdef.find("none"), ["x"])


def test_require_valid(root: Path) -> None:
    make_os(root, "ok")
    assert osdef.find("ok").require_valid().name == "ok"
    with pytest.raises(errors.OpPrereqError, match="Invalid OS 'gone'"):
        osdef.find("gone").require_valid()


def test_symlinked_os_dir(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("repo")
    src = make_os(elsewhere, "linked")
    (root / "srv/ganeti/os").mkdir(parents=True)
    os.symlink(src, root / "srv/ganeti/os/linked")
    osd = osdef.find("linked")
    assert osd.valid and osd.path == str(root / "srv/ganeti/os/linked")
