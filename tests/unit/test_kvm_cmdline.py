"""The KVM hypervisor's pure parts: parameters, QEMU command line, parsers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gnt import errors, hypervisor, paths
from gnt.hypervisor.base import DiskSpec, InstanceSpec, NICSpec
from gnt.hypervisor.kvm import accel, cmdline, network, nodeinfo
from gnt.hypervisor.kvm import params as P
from gnt.hypervisor.kvm import runtime as R

pytestmark = pytest.mark.unit

GANETI_KVM_NAMES = {
    "kvm_path", "kernel_path", "initrd_path", "kernel_args", "root_path", "acpi",
    "serial_console", "serial_speed", "vnc_bind_address", "vnc_tls", "vnc_x509_path",
    "vnc_x509_verify", "vnc_password_file", "scsi_controller_type", "kvm_pci_reservations",
    "spice_bind", "spice_ip_version", "spice_password_file", "spice_image_compression",
    "spice_jpeg_wan_compression", "spice_zlib_glz_wan_compression", "spice_streaming_video",
    "spice_playback_compression", "spice_use_tls", "spice_tls_ciphers", "spice_use_vdagent",
    "floppy_image_path", "cdrom_image_path", "cdrom2_image_path", "boot_order", "nic_type",
    "disk_type", "cdrom_disk_type", "disk_aio", "usb_mouse", "keymap", "migration_port",
    "migration_bandwidth", "migration_downtime", "migration_mode", "use_guest_agent",
    "use_localtime", "disk_cache", "disk_discard", "security_model", "security_domain",
    "kvm_flag", "vhost_net", "virtio_net_queues", "use_chroot", "user_shutdown", "mem_path",
    "reboot_behavior", "cpu_mask", "cpu_type", "cpu_cores", "cpu_threads", "cpu_sockets",
    "soundhw", "usb_devices", "vga", "kvm_extra", "machine_version", "migration_caps",
    "vnet_hdr",
}


def spec(hv: dict[str, Any] | None = None, disks: int = 1, nics: int = 0,
         **kw: Any) -> InstanceSpec:
    hvparams = {"kernel_path": "/k/vmlinuz", "initrd_path": "/k/initrd.img",
                "kernel_args": "quiet", "kvm_path": "/usr/bin/qemu-system-x86_64"}
    hvparams.update(hv or {})
    return InstanceSpec(
        name="inst1", uuid="abcdef12-3456-7890-abcd-ef1234567890", hypervisor="kvm",
        hvparams=hvparams, beparams={"maxmem": 256, "vcpus": 2},
        disks=[DiskSpec(uuid=f"d{i}aaaaaa-0000", index=i, path=f"/d/disk{i}", size=64)
               for i in range(disks)],
        nics=[NICSpec(uuid=f"n{i}bbbbbb-0000", index=i, mac=f"aa:00:00:00:00:0{i}",
                      nicparams={"mode": "bridged", "link": "br0"}) for i in range(nics)],
        **kw)


def ctx(**kw: Any) -> cmdline.LaunchContext:
    base: dict[str, Any] = {"accel": "tcg", "pidfile": "/run/pid/inst1",
                            "qmp": "/run/c/inst1.qmp", "monitor": "/run/c/inst1.monitor",
                            "serial": "/run/c/inst1.serial"}
    base.update(kw)
    return cmdline.LaunchContext(**base)


def opt(argv: list[str], flag: str) -> list[str]:
    """Every value following ``flag`` in ``argv``."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


# --------------------------------------------------------------------- params

def test_parameter_table_has_ganetis_names_plus_accel() -> None:
    assert set(P.PARAMETERS) == GANETI_KVM_NAMES | {"accel"}
    assert len(P.PARAMETERS) == 66


def test_defaults_follow_ganeti() -> None:
    d = hypervisor.defaults_for("kvm")
    assert d["kernel_path"] == "/boot/vmlinuz-3-kvmU"
    assert d["kernel_args"] == "ro" and d["root_path"] == "/dev/vda1"
    assert d["serial_console"] is True and d["serial_speed"] == 38400
    assert d["migration_port"] == 8102 and d["migration_bandwidth"] == 32
    assert d["migration_downtime"] == 30 and d["disk_aio"] == "threads"
    assert d["vhost_net"] is False and d["vnet_hdr"] is True and d["accel"] == "auto"
    expected_path = ("/usr/bin/qemu-system-x86_64"
                     if os.path.exists("/usr/bin/qemu-system-x86_64") else "/usr/bin/kvm")
    assert d["kvm_path"] == expected_path


def test_every_default_satisfies_its_choices() -> None:
    for name, p in P.PARAMETERS.items():
        if p.choices is not None:
            assert p.default in p.choices, name


def test_check_parameters_coerces_and_rejects() -> None:
    out = hypervisor.check_parameters("kvm", {"acpi": "no", "serial_speed": "115200",
                                              "accel": "tcg"})
    assert out == {"acpi": False, "serial_speed": 115200, "accel": "tcg"}
    with pytest.raises(errors.ParameterError, match="nic_type"):
        hypervisor.check_parameters("kvm", {"nic_type": "virtio"})
    with pytest.raises(errors.ParameterError, match="accel"):
        hypervisor.check_parameters("kvm", {"accel": "hvf"})
    with pytest.raises(errors.ParameterError, match="Unknown"):
        hypervisor.check_parameters("kvm", {"no_such_param": "1"})


# ------------------------------------------------------------------- cmdline

def test_test_guest_command_line() -> None:
    argv = cmdline.build(spec(), ctx())
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert opt(argv, "-name") == ["inst1"]
    assert opt(argv, "-uuid") == ["abcdef12-3456-7890-abcd-ef1234567890"]
    assert opt(argv, "-m") == ["256"] and opt(argv, "-smp") == ["2"]
    assert opt(argv, "-accel") == ["tcg"] and opt(argv, "-machine") == ["pc"]
    for flag in ("-nodefaults", "-S", "-daemonize"):
        assert flag in argv
    assert opt(argv, "-pidfile") == ["/run/pid/inst1"]
    assert opt(argv, "-qmp") == ["unix:/run/c/inst1.qmp,server=on,wait=off"]
    assert opt(argv, "-serial") == ["chardev:serial0"]
    assert "socket,id=serial0,path=/run/c/inst1.serial,server=on,wait=off" in opt(argv,
                                                                                 "-chardev")
    assert opt(argv, "-kernel") == ["/k/vmlinuz"] and opt(argv, "-initrd") == ["/k/initrd.img"]
    assert opt(argv, "-append") == ["root=/dev/vda1 quiet console=ttyS0,38400"]
    assert opt(argv, "-drive") == [
        "file=/d/disk0,format=raw,if=none,id=disk0-d0aaaaaa-drive,aio=threads"]
    assert "virtio-blk-pci,drive=disk0-d0aaaaaa-drive,id=disk0-d0aaaaaa" in opt(argv, "-device")
    assert opt(argv, "-display") == ["none"] and "-vnc" not in argv
    assert "-netdev" not in argv and "-no-reboot" not in argv


def test_partial_hvparams_take_defaults() -> None:
    s = InstanceSpec(name="x", uuid="u", hypervisor="kvm", hvparams={},
                     beparams={"maxmem": 128})
    argv = cmdline.build(s, ctx())
    assert opt(argv, "-kernel") == ["/boot/vmlinuz-3-kvmU"]
    assert opt(argv, "-append") == ["root=/dev/vda1 ro console=ttyS0,38400"]
    assert opt(argv, "-smp") == ["1"]
    assert "-uuid" not in argv  # "u" is not a UUID


def test_no_kernel_boots_first_disk_and_no_serial() -> None:
    argv = cmdline.build(spec({"kernel_path": "", "initrd_path": "", "serial_console": False}),
                         ctx(serial=None))
    assert "-kernel" not in argv and "-append" not in argv and "-serial" not in argv
    assert "virtio-blk-pci,drive=disk0-d0aaaaaa-drive,id=disk0-d0aaaaaa,bootindex=1" in opt(
        argv, "-device")


def test_kernel_append_without_root_or_console() -> None:
    assert cmdline.kernel_append({"root_path": None, "kernel_args": "ro quiet",
                                  "serial_console": False}) == "ro quiet"
    assert cmdline.kernel_append({"root_path": "/dev/vda", "kernel_args": "",
                                  "serial_console": True, "serial_speed": 115200}) == \
        "root=/dev/vda console=ttyS0,115200"


@pytest.mark.parametrize(("hv", "drive_suffix"), [
    ({}, ",aio=threads"),
    ({"disk_cache": "writeback", "disk_discard": "unmap"},
     ",aio=threads,cache=writeback,discard=unmap"),
    ({"disk_aio": "native"}, ",aio=native,cache=none"),
    ({"disk_aio": "io_uring", "disk_cache": "none"}, ",aio=io_uring,cache=none"),
])
def test_disk_cache_aio_discard(hv: dict[str, Any], drive_suffix: str) -> None:
    argv = cmdline.build(spec(hv), ctx())
    assert opt(argv, "-drive")[0].endswith(",id=disk0-d0aaaaaa-drive" + drive_suffix)


def test_native_aio_with_host_cache_is_refused() -> None:
    with pytest.raises(errors.HypervisorError, match="disk_aio=native"):
        cmdline.build(spec({"disk_aio": "native", "disk_cache": "writeback"}), ctx())


def test_readonly_disk_and_uri() -> None:
    s = spec(disks=2)
    s.disks[0].mode = "ro"
    s.disks[1].uri = "gluster://host/vol/img"
    drives = opt(cmdline.build(s, ctx()), "-drive")
    assert drives[0].endswith(",readonly=on")
    assert drives[1].startswith("file=gluster://host/vol/img,")


def test_commas_in_paths_are_escaped() -> None:
    s = spec()
    s.disks[0].path = "/d/a,b"
    assert opt(cmdline.build(s, ctx()), "-drive")[0].startswith("file=/d/a,,b,format=raw")


def test_scsi_disks_get_a_controller_first() -> None:
    argv = cmdline.build(spec({"disk_type": "scsi-hd",
                               "scsi_controller_type": "virtio-scsi-pci"}), ctx())
    devices = opt(argv, "-device")
    assert devices[0] == "virtio-scsi-pci,id=scsi0"
    assert "scsi-hd,drive=disk0-d0aaaaaa-drive,id=disk0-d0aaaaaa,bus=scsi0.0" in devices


def test_legacy_disk_types_use_drive_if() -> None:
    argv = cmdline.build(spec({"disk_type": "sd"}), ctx())
    assert opt(argv, "-drive") == ["file=/d/disk0,format=raw,if=sd,aio=threads"]


def test_cdrom_boot() -> None:
    argv = cmdline.build(spec({"kernel_path": "", "initrd_path": "", "boot_order": "cdrom",
                               "cdrom_image_path": "/iso/a.iso"}), ctx())
    assert "file=/iso/a.iso,format=raw,if=none,id=cdrom0-drive,readonly=on,media=cdrom" in \
        opt(argv, "-drive")
    assert "ide-cd,drive=cdrom0-drive,id=cdrom0,bootindex=1" in opt(argv, "-device")
    assert not any("bootindex" in d for d in opt(argv, "-device") if d.startswith("virtio"))


def test_nics_use_passed_tap_fds() -> None:
    argv = cmdline.build(spec(nics=2), ctx(nic_fds={0: [7], 1: [8, 9]}))
    assert opt(argv, "-netdev") == ["tap,id=nic0-n0bbbbbb-netdev,fd=7",
                                    "tap,id=nic1-n1bbbbbb-netdev,fds=8:9"]
    devices = opt(argv, "-device")
    assert ("virtio-net-pci,netdev=nic0-n0bbbbbb-netdev,id=nic0-n0bbbbbb,"
            "mac=aa:00:00:00:00:00") in devices
    assert ("virtio-net-pci,netdev=nic1-n1bbbbbb-netdev,id=nic1-n1bbbbbb,"
            "mac=aa:00:00:00:00:01,mq=on,vectors=6") in devices


def test_nic_model_and_vhost() -> None:
    argv = cmdline.build(spec({"vhost_net": True}, nics=1), ctx(nic_fds={0: [5]}))
    assert opt(argv, "-netdev") == ["tap,id=nic0-n0bbbbbb-netdev,fd=5,vhost=on"]
    argv = cmdline.build(spec({"nic_type": "e1000", "vhost_net": True}, nics=1),
                         ctx(nic_fds={0: [5]}))
    assert opt(argv, "-netdev") == ["tap,id=nic0-n0bbbbbb-netdev,fd=5"]
    assert any(d.startswith("e1000,netdev=") for d in opt(argv, "-device"))


def test_nic_without_fd_is_a_bug() -> None:
    with pytest.raises(errors.ProgrammerError):
        cmdline.build(spec(nics=1), ctx())


def test_vnc_display_from_network_port() -> None:
    argv = cmdline.build(spec({"vnc_bind_address": "0.0.0.0", "keymap": "de"},
                              network_port=5907), ctx())
    assert opt(argv, "-vnc") == ["0.0.0.0:7"] and opt(argv, "-vga") == ["std"]
    assert opt(argv, "-k") == ["de"] and "-display" not in argv
    argv = cmdline.build(spec({"vnc_bind_address": "::1"}, network_port=5901), ctx())
    assert opt(argv, "-vnc") == ["[::1]:1"]
    argv = cmdline.build(spec({"vnc_bind_address": "/run/vnc.sock"}), ctx())
    assert opt(argv, "-vnc") == ["unix:/run/vnc.sock"]


def test_vnc_tls_and_password() -> None:
    argv = cmdline.build(spec({"vnc_bind_address": "127.0.0.1", "vnc_tls": True,
                               "vnc_x509_path": "/etc/x509", "vnc_x509_verify": True,
                               "vnc_password_file": "/etc/pw"}, network_port=5910), ctx())
    assert opt(argv, "-object") == [
        "tls-creds-x509,id=vnc-tls,dir=/etc/x509,endpoint=server,verify-peer=on"]
    assert opt(argv, "-vnc") == ["127.0.0.1:10,tls-creds=vnc-tls,password=on"]


def test_vnc_needs_a_port_and_an_address() -> None:
    with pytest.raises(errors.HypervisorError, match="network port"):
        cmdline.build(spec({"vnc_bind_address": "0.0.0.0"}), ctx())
    with pytest.raises(errors.HypervisorError, match="neither an IP"):
        cmdline.build(spec({"vnc_bind_address": "eth0"}, network_port=5901), ctx())


def test_machine_cpu_and_behaviour_flags() -> None:
    argv = cmdline.build(spec({
        "acpi": False, "machine_version": "pc-i440fx-7.2", "cpu_type": "max",
        "cpu_cores": 2, "cpu_sockets": 1, "mem_path": "/hugepages", "use_localtime": True,
        "reboot_behavior": "exit", "user_shutdown": True, "usb_mouse": "tablet",
        "security_model": "user", "security_domain": "kvmuser", "vga": "virtio",
        "kvm_extra": "-global kvm-pit.lost_tick_policy=discard -no-hpet"}), ctx(accel="kvm"))
    assert opt(argv, "-machine") == ["pc-i440fx-7.2,acpi=off"]
    assert opt(argv, "-accel") == ["kvm"] and opt(argv, "-cpu") == ["max"]
    assert opt(argv, "-smp") == ["2,cores=2,sockets=1"]
    assert opt(argv, "-mem-path") == ["/hugepages"]
    assert opt(argv, "-rtc") == ["base=localtime"] and opt(argv, "-runas") == ["kvmuser"]
    assert "-no-reboot" in argv and "-no-shutdown" in argv
    assert "usb-tablet" in opt(argv, "-device") and opt(argv, "-vga") == ["virtio"]
    assert argv[-3:] == ["-global", "kvm-pit.lost_tick_policy=discard", "-no-hpet"]


def test_guest_agent_and_chroot() -> None:
    argv = cmdline.build(spec({"use_guest_agent": True, "use_chroot": True}),
                         ctx(qga="/run/c/inst1.qga", chroot_dir="/run/chroot/inst1"))
    assert "socket,id=qga0,path=/run/c/inst1.qga,server=on,wait=off" in opt(argv, "-chardev")
    assert "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0" in opt(argv, "-device")
    assert opt(argv, "-chroot") == ["/run/chroot/inst1"]


@pytest.mark.parametrize(("hv", "match"), [
    ({"spice_bind": "0.0.0.0"}, "SPICE"),
    ({"security_model": "pool"}, "pool"),
    ({"security_model": "user"}, "security_domain"),
])
def test_unsupported_values_are_refused(hv: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.HypervisorError, match=match):
        cmdline.build(spec(hv), ctx())


def test_ignored_parameters_are_reported() -> None:
    assert cmdline.ignored(P.filled({})) == []
    # migration parameters are used (by migration), so not reported
    assert cmdline.ignored(P.filled({"soundhw": "hda", "migration_port": 9000})) == [
        "soundhw"]


def test_parse_cpu_mask() -> None:
    assert cmdline.parse_cpu_mask("all", 2) is None
    assert cmdline.parse_cpu_mask("0-2,5", 2) == [[0, 1, 2, 5], [0, 1, 2, 5]]
    assert cmdline.parse_cpu_mask("1:3-4:all", 3) == [[1], [3, 4], []]
    with pytest.raises(errors.HypervisorError, match="2 entries"):
        cmdline.parse_cpu_mask("1:2", 3)
    with pytest.raises(errors.HypervisorError, match="Invalid"):
        cmdline.parse_cpu_mask("3-1", 1)


# --------------------------------------------------------------------- accel

def test_accel_choice_without_probing() -> None:
    assert accel.choose({"accel": "tcg", "kvm_flag": ""})[0] == "tcg"
    assert accel.choose({"accel": "kvm", "kvm_flag": "enabled"})[0] == "kvm"
    assert accel.choose({"accel": "auto", "kvm_flag": "disabled"})[0] == "tcg"
    assert accel.choose({"accel": "auto", "kvm_flag": "enabled"})[0] == "kvm"
    with pytest.raises(errors.HypervisorError, match="Contradicting"):
        accel.choose({"accel": "tcg", "kvm_flag": "enabled"})


def test_probe_sector_is_a_boot_sector() -> None:
    assert len(accel.PROBE_SECTOR) == 512 and accel.PROBE_SECTOR.endswith(b"\x55\xaa")


# ------------------------------------------------------------------- runtime

def test_process_cmdline_and_liveness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    me = R.process_cmdline(os.getpid())
    assert me is not None and "python" in me[0]
    rt = R.KVMRuntime(name="a", uuid="u", pid=os.getpid(), cmdline=me, spec=spec(),
                      start_time=0, accel="tcg", qmp="/x")
    assert R.is_alive(rt)
    assert not R.is_alive(rt.model_copy(update={"cmdline": ["/usr/bin/qemu", "-name", "a"]}))
    ip = R.InstancePaths("a")
    ip.make_dirs()
    R.save(ip, rt)
    assert R.load(ip) == rt and R.runtime_names() == ["a"]
    R.remove_files(ip)
    assert R.load(ip) is None and R.runtime_names() == []


def test_socket_dir_stays_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.ENV_ROOT, "/")
    ip = R.InstancePaths("web1.example.com")
    assert ip.qmp == Path("/var/run/ganeti/kvm-hypervisor/ctrl/web1.example.com.qmp")
    deep = tmp_path / ("x" * 80)
    monkeypatch.setenv(paths.ENV_ROOT, str(deep))
    ip = R.InstancePaths("web1.example.com")
    assert len(str(ip.monitor)) <= 107 and str(deep) not in str(ip.qmp)
    assert ip.runtime.is_relative_to(deep)
    assert R.InstancePaths("web1.example.com").qmp == ip.qmp  # deterministic


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "a b"])
def test_bad_instance_names(name: str) -> None:
    with pytest.raises(errors.HypervisorError, match="Invalid instance name"):
        R.InstancePaths(name)


# ------------------------------------------------------------ parsers, misc

def test_parse_meminfo() -> None:
    text = "MemTotal:  2048000 kB\nMemFree: 100 kB\nMemAvailable: 1024000 kB\n"
    assert nodeinfo.parse_meminfo(text) == {"total": 2000, "available": 1000}
    old = "MemTotal: 4096 kB\nMemFree: 1024 kB\nBuffers: 1024 kB\nCached: 2048 kB\n"
    assert nodeinfo.parse_meminfo(old) == {"total": 4, "available": 4}
    with pytest.raises(errors.HypervisorError):
        nodeinfo.parse_meminfo("MemFree: 1 kB\n")


def test_cpu_sockets() -> None:
    assert nodeinfo.cpu_sockets("processor : 0\nphysical id : 0\nprocessor : 1\n"
                                "physical id : 1\n") == 2
    assert nodeinfo.cpu_sockets("processor : 0\n") == 1


@pytest.mark.parametrize(("vlan", "expected"), [
    (".10", (10, [])), ("10", (10, [])), (":20:30", (None, [20, 30])),
    (".10:20", (10, [20])), ("", (None, [])),
])
def test_vlan_syntax(vlan: str, expected: tuple[int | None, list[int]]) -> None:
    assert network._vlans(vlan) == expected


def test_bridged_nic_needs_an_existing_bridge() -> None:
    nic = NICSpec(uuid="n", index=0, mac="aa:00:00:00:00:01",
                  nicparams={"mode": "bridged", "link": "gnt-no-such-br"})
    with pytest.raises(errors.HypervisorError, match="bridge 'gnt-no-such-br' does not exist"):
        network.check_link(nic)
    nic.nicparams["mode"] = "slirp"
    with pytest.raises(errors.HypervisorError, match="unsupported mode"):
        network.check_link(nic)


def test_serial_console_log_file() -> None:
    argv = cmdline.build(spec(), ctx(serial_log="/var/log/ganeti/kvm/inst1.serial.log"))
    assert ("socket,id=serial0,path=/run/c/inst1.serial,server=on,wait=off,"
            "logfile=/var/log/ganeti/kvm/inst1.serial.log,logappend=on") in opt(argv, "-chardev")
