"""The node daemon and the RPC client against each other, over real mutual TLS."""

from __future__ import annotations

import base64
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from gnt import constants, errors
from gnt.crypto import TrustStore, generate_cert_file, generate_self_signed, write_bundle
from gnt.daemon import PidFile, control
from gnt.noded import registry
from gnt.noded.server import NodeServer
from gnt.rpc import OFFLINE_MSG, RpcClient

from .conftest import (
    NODED_CMD,
    NODED_NAME,
    REPO,
    Noded,
    NodeRoot,
    free_loopback_ip,
    make_node_root,
    wait_until,
)

pytestmark = pytest.mark.integration


# --- calls -----------------------------------------------------------------

def test_version_round_trip(noded: Noded, rpc: RpcClient) -> None:
    res = rpc.call(noded.node.ip, "version", [], timeout=10, node_name="nodeA")
    res.raise_on_fail()
    assert (res.node, res.call, res.fail_msg, res.offline) == ("nodeA", "version", None, False)
    assert res.data == constants.PROTOCOL_VERSION


def test_daemon_listens_on_its_hosts_address_and_logs(noded: Noded) -> None:
    node = noded.node
    assert noded.pid is not None
    assert int(noded.pid_file.read_text()) == noded.pid
    with socket.create_connection((node.ip, noded.port), timeout=2):
        pass
    with pytest.raises(OSError):  # bound to the node's address only
        socket.create_connection(("127.0.0.1", noded.port), timeout=2).close()
    assert f"Listening on https://{node.ip}:{noded.port}/" in noded.log_file.read_text()


def test_node_info_basic(noded: Noded, rpc: RpcClient) -> None:
    info = rpc.call(noded.node.ip, "node_info_basic").data
    assert info["hostname"] == "nodeA.gnt.test"
    assert info["bootid"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert info["cpu_total"] == os.cpu_count()
    assert 0 < info["memory_free"] <= info["memory_total"]


def test_many_parallel_pings(noded: Noded, rpc: RpcClient) -> None:
    nodes = {f"node{i}": noded.node.ip for i in range(64)}
    results = rpc.call_many(nodes, "ping", [], timeout=20)
    assert list(results) == list(nodes)
    assert all(r.data is True and r.fail_msg is None for r in results.values())
    assert {r.node for r in results.values()} == set(nodes)

    # the shared client used from many threads at once
    failures: list[str] = []

    def worker() -> None:
        for _ in range(25):
            r = rpc.call(noded.node.ip, "ping", timeout=20)
            if r.data is not True:
                failures.append(str(r.fail_msg))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_call_many_per_node_args_and_offline(noded: Noded, rpc: RpcClient) -> None:
    dead_ip = free_loopback_ip()  # nothing listens there
    nodes = {"a": noded.node.ip, "b": noded.node.ip, "down": dead_ip, "off": dead_ip}
    results = rpc.call_many(nodes, "upload_file", per_node_args={
        "a": ["/var/lib/ganeti/hmac.key", base64.b64encode(b"A\n").decode(), 0o400],
        "b": ["/etc/passwd", "", 0o644],
        "down": ["/var/lib/ganeti/hmac.key", "", 0o400],
    }, offline={"off"}, timeout=5)
    assert results["a"].fail_msg is None
    assert noded.node.paths.confd_hmac_key.read_bytes() == b"A\n"
    assert isinstance(results["b"].remote_error, errors.OpPrereqError)
    assert results["down"].remote_error is None and "Cannot connect" in results["down"].fail_msg
    off = results["off"]
    assert off.offline and off.fail_msg == OFFLINE_MSG
    with pytest.raises(errors.RPCError, match="'down'"):
        results["down"].raise_on_fail()
    assert rpc.call(dead_ip, "ping", offline=True).offline


def test_write_ssconf_files(noded: Noded, rpc: RpcClient) -> None:
    p = noded.node.paths
    p.data_dir.mkdir(parents=True, exist_ok=True)
    p.ssconf_file("stale_key").write_text("old")
    values = {"cluster_name": "cluster.gnt.test", "node_list": "nodeA.gnt.test\nnodeB.gnt.test",
              "hvparams_kvm": "acpi=True"}
    rpc.call(noded.node.ip, "write_ssconf_files", [values]).raise_on_fail()
    for key, value in values.items():
        assert p.ssconf_file(key).read_text() == value
        assert p.ssconf_file(key).stat().st_mode & 0o777 == 0o444
    assert not p.ssconf_file("stale_key").exists()

    rpc.call(noded.node.ip, "write_ssconf_files", [{"cluster_name": "c2"}]).raise_on_fail()
    assert sorted(f.name for f in p.data_dir.glob("ssconf_*")) == ["ssconf_cluster_name"]
    assert p.ssconf_file("cluster_name").read_text() == "c2"

    bad = rpc.call(noded.node.ip, "write_ssconf_files", [{"../escape": "x"}])
    with pytest.raises(errors.OpPrereqError, match="Invalid ssconf key"):
        bad.raise_on_fail()
    assert p.ssconf_file("cluster_name").read_text() == "c2"


def test_upload_file_only_into_the_allowlist(noded: Noded, rpc: RpcClient) -> None:
    p = noded.node.paths
    content = b"jack {HA1}0123456789abcdef write\n"
    res = rpc.call(noded.node.ip, "upload_file",
                   ["/var/lib/ganeti/rapi/users", base64.b64encode(content).decode(), 0o640])
    res.raise_on_fail()
    users = p.data_dir / "rapi" / "users"
    assert users.read_bytes() == content and users.stat().st_mode & 0o777 == 0o640

    for name in ("/etc/passwd", "/var/lib/ganeti/server.pem",
                 "/var/lib/ganeti/rapi/../../../../etc/shadow", "/etc/ganeti/file-storage-paths"):
        res = rpc.call(noded.node.ip, "upload_file", [name, "eA==", 0o644])
        assert isinstance(res.remote_error, errors.OpPrereqError), name
        assert res.remote_error.ecode == errors.ECODE_INVAL
    assert not (p.root / "etc" / "passwd").exists()
    assert not (p.root / "etc" / "shadow").exists()

    res = rpc.call(noded.node.ip, "upload_file", ["/etc/hosts", "not base64!", 0o644])
    assert type(res.remote_error) is errors.ParameterError


def test_remote_errors_keep_class_and_ecode(noded: Noded, rpc: RpcClient) -> None:
    res = rpc.call(noded.node.ip, "upload_file", ["/etc/passwd", "", 0o644],
                   node_name="nodeA.gnt.test")
    assert res.fail_msg and "not in the list" in res.fail_msg
    with pytest.raises(errors.OpPrereqError) as exc:
        res.raise_on_fail("Uploading")
    assert type(exc.value) is errors.OpPrereqError
    assert exc.value.ecode == errors.ECODE_INVAL
    assert str(exc.value).startswith("Uploading: Call 'upload_file' to node 'nodeA.gnt.test'")

    res = rpc.call(noded.node.ip, "ping", [1, 2])
    assert type(res.remote_error) is errors.ParameterError
    assert "ping()" in res.fail_msg


def test_unknown_procedure(noded: Noded, rpc: RpcClient) -> None:
    res = rpc.call(noded.node.ip, "no_such_procedure")
    assert type(res.remote_error) is errors.RPCError
    assert res.remote_error.ecode == errors.ECODE_NOENT
    with pytest.raises(errors.RPCError, match="Unknown procedure 'no_such_procedure'"):
        res.raise_on_fail()

    # on the wire: 404 with Ganeti's [false, error] body
    ctx = ssl.create_default_context(cafile=str(noded.node.cert_file))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(noded.node.cert_file))
    with httpx.Client(verify=ctx, trust_env=False) as http:
        resp = http.post(f"https://{noded.node.ip}:{noded.port}/no_such_procedure",
                         content=b"[]")
        assert resp.status_code == 404
        assert resp.json() == [False, ["RPCError", ["Unknown procedure 'no_such_procedure'",
                                                    "unknown_entity"]]]
        resp = http.post(f"https://{noded.node.ip}:{noded.port}/ping", content=b"{}")
        assert resp.status_code == 400 and resp.json()[0] is False
        resp = http.get(f"https://{noded.node.ip}:{noded.port}/ping")
        assert resp.status_code == 405 and resp.json()[0] is False


# --- authentication ----------------------------------------------------------

def test_client_without_certificate_is_refused(noded: Noded) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(str(noded.node.cert_file))  # trusts the server, shows no cert
    with httpx.Client(verify=ctx, trust_env=False) as http, pytest.raises(httpx.TransportError):
        http.post(f"https://{noded.node.ip}:{noded.port}/ping", content=b"[]")


def test_client_with_foreign_certificate_is_refused(noded: Noded, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.pem"
    generate_cert_file(foreign)
    server_trust = TrustStore.from_files(noded.node.cert_file)
    with RpcClient(cert_file=foreign, trust=server_trust) as client:
        res = client.call(noded.node.ip, "ping", timeout=5, node_name="nodeA")
        assert res.data is None and res.fail_msg and res.remote_error is None
        with pytest.raises(errors.RPCError, match="'nodeA'"):
            res.raise_on_fail()
    # and a client that only trusts its own certificate refuses the node
    with RpcClient(cert_file=foreign) as client:
        res = client.call(noded.node.ip, "ping", timeout=5)
        assert res.fail_msg and "CERTIFICATE_VERIFY_FAILED" in res.fail_msg
    # the legitimate client still works
    with RpcClient(cert_file=noded.node.cert_file) as client:
        assert client.call(noded.node.ip, "ping").data is True


def test_client_without_certificate_file_fails_cleanly(noded: Noded, tmp_path: Path) -> None:
    with RpcClient(cert_file=tmp_path / "missing.pem") as client:
        res = client.call(noded.node.ip, "ping")
        assert res.fail_msg and "missing.pem" in res.fail_msg
        with pytest.raises(errors.RPCError):
            res.raise_on_fail()


# --- daemon life cycle ----------------------------------------------------------

def test_refuses_to_start_twice(noded: Noded) -> None:
    pid = noded.pid
    res = noded.start(check=False)
    assert res.returncode != 0
    assert "already running" in res.stderr and str(pid) in res.stderr
    assert noded.pid == pid
    with RpcClient(cert_file=noded.node.cert_file) as client:
        assert client.call(noded.node.ip, "ping").data is True


def test_sigterm_removes_pidfile(noded: Noded) -> None:
    pid = noded.pid
    assert pid and noded.pid_file.exists()
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not noded.pid_file.exists())
    wait_until(lambda: not control.pid_alive(pid))
    with pytest.raises(OSError):
        socket.create_connection((noded.node.ip, noded.port), timeout=1).close()
    assert "ganeti-noded stopped" in noded.log_file.read_text()


def test_start_and_stop_helpers(node_root: NodeRoot) -> None:
    env = node_root.env()
    argv = [*NODED_CMD]
    try:
        assert control.start_daemon(NODED_NAME, argv, env=env) is True
        pid = control.daemon_pid(NODED_NAME, node_root.paths)
        assert pid and control.pid_alive(pid)
        assert control.is_running(NODED_NAME, node_root.paths)
        assert control.start_daemon(NODED_NAME, argv, env=env) is False  # already runs
        assert control.stop_daemon(NODED_NAME, 10, node_root.paths) is True
        assert not control.pid_alive(pid)
        assert not node_root.paths.daemon_pid_file(NODED_NAME).exists()
        assert control.stop_daemon(NODED_NAME, 10, node_root.paths) is False
    finally:
        control.stop_daemon(NODED_NAME, 5, node_root.paths)


def test_stop_kills_a_daemon_ignoring_sigterm(node_root: NodeRoot) -> None:
    """stop_daemon escalates to SIGKILL; the stale pid file is cleaned up."""
    script = ("import signal, sys, time\n"
              "from gnt.daemon import PidFile\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              f"PidFile({str(node_root.paths.daemon_pid_file('stubborn'))!r}).acquire()\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([*NODED_CMD[:1], "-c", script], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        assert control.daemon_pid("stubborn", node_root.paths) == proc.pid
        start = time.monotonic()
        assert control.stop_daemon("stubborn", 0.5, node_root.paths) is True
        assert time.monotonic() - start < 5
        assert proc.wait(5) == -signal.SIGKILL
        assert not node_root.paths.daemon_pid_file("stubborn").exists()
        again = PidFile(node_root.paths.daemon_pid_file("stubborn"))
        again.acquire(wait=0)  # the lock is free again
        again.release()
    finally:
        proc.kill()
        proc.wait()


def test_foreground_mode_and_sigint(node_root: NodeRoot) -> None:
    proc = subprocess.Popen([*NODED_CMD, "-f", "-d"], env=node_root.env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        pid_file = node_root.paths.daemon_pid_file(NODED_NAME)
        wait_until(lambda: control.daemon_pid(NODED_NAME, node_root.paths) == proc.pid)
        with RpcClient(cert_file=node_root.cert_file) as client:
            wait_until(lambda: client.call(node_root.ip, "ping", timeout=2).data is True)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert not pid_file.exists()
        assert proc.stderr is not None and "Listening on" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


def test_start_fails_without_certificate(tmp_path: Path) -> None:
    node = make_node_root(tmp_path / "nocert", "nodeA.gnt.test", None)
    d = Noded(node)
    res = d.start(check=False)
    assert res.returncode != 0
    assert "server.pem" in res.stderr and "does not exist" in res.stderr
    assert not d.pid_file.exists()


def test_start_fails_when_port_is_busy(node_root: NodeRoot) -> None:
    with socket.socket() as blocker:
        blocker.bind((node_root.ip, constants.DEFAULT_NODED_PORT))
        blocker.listen()
        res = Noded(node_root).start(check=False)
    assert res.returncode != 0
    assert f"Cannot listen on {node_root.ip}:{constants.DEFAULT_NODED_PORT}" in res.stderr
    assert not node_root.paths.daemon_pid_file(NODED_NAME).exists()


def test_bind_and_port_options(node_root: NodeRoot) -> None:
    other_ip = free_loopback_ip(18110)
    d = Noded(node_root, port=18110)
    d.start("--bind", other_ip)
    try:
        with RpcClient(cert_file=node_root.cert_file, port=18110) as client:
            assert client.call(other_ip, "version").data == constants.PROTOCOL_VERSION
            assert client.call(node_root.ip, "version", timeout=2).fail_msg
    finally:
        d.stop()


def test_start_fails_when_hostname_does_not_resolve(node_root: NodeRoot) -> None:
    res = subprocess.run(NODED_CMD, env=node_root.env(GNT_HOSTNAME="nosuchnode.invalid"),
                         capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert res.returncode != 0 and "nosuchnode.invalid" in res.stderr


# --- server behaviour, in-process (procedures only tests can define) ------------------

registry.load_procedures()  # the real ones too, as the daemon does

@registry.procedure("test_raise_unexpected")
def _raise_unexpected() -> None:
    raise ValueError("boom")


@registry.procedure("test_raise_wrong_state")
def _raise_wrong_state(what: str) -> None:
    raise errors.OpPrereqError(f"{what} is in the wrong state", errors.ECODE_STATE)


@registry.procedure("test_not_jsonable")
def _not_jsonable() -> object:
    return {1, 2}


@registry.procedure("test_sleep")
def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.fixture
def inproc_server(node_root: NodeRoot):  # type: ignore[no-untyped-def]
    server = NodeServer(node_root.ip, 0, cert_file=node_root.cert_file)
    thread = server.start_in_thread()
    try:
        yield server
    finally:
        server.stop()
        thread.join(15)
        assert not thread.is_alive()


def test_unexpected_exception_is_an_internal_error(inproc_server: NodeServer,
                                                   rpc: RpcClient) -> None:
    res = rpc.call(inproc_server.address, "test_raise_unexpected", port=inproc_server.port)
    assert type(res.remote_error) is errors.OpExecError
    assert res.remote_error.ecode == errors.ECODE_FAULT
    assert "ValueError: boom" in res.fail_msg
    res = rpc.call(inproc_server.address, "test_not_jsonable", port=inproc_server.port)
    assert type(res.remote_error) is errors.OpExecError


def test_custom_ecode_travels(inproc_server: NodeServer, rpc: RpcClient) -> None:
    res = rpc.call(inproc_server.address, "test_raise_wrong_state", ["inst1"],
                   port=inproc_server.port)
    with pytest.raises(errors.OpPrereqError, match="inst1 is in the wrong state") as exc:
        res.raise_on_fail()
    assert exc.value.ecode == errors.ECODE_STATE


def test_procedures_run_concurrently_and_timeouts(inproc_server: NodeServer,
                                                  rpc: RpcClient) -> None:
    nodes = {f"n{i}": inproc_server.address for i in range(8)}
    start = time.monotonic()
    results = rpc.call_many(nodes, "test_sleep", [0.5], timeout=10, port=inproc_server.port)
    assert all(r.data == 0.5 for r in results.values())
    assert time.monotonic() - start < 2.5  # in parallel, not 8 * 0.5 s
    res = rpc.call(inproc_server.address, "test_sleep", [1], timeout=0.3,
                   port=inproc_server.port)
    assert res.fail_msg == (f"Timeout after 0.3s waiting for a reply from "
                            f"{inproc_server.address}:{inproc_server.port}")


def test_connect_timeout_is_told_apart(node_root: NodeRoot, rpc: RpcClient) -> None:
    """A peer that accepts TCP but never does the TLS handshake."""
    with socket.socket() as mute:
        mute.bind((node_root.ip, 0))
        mute.listen()
        port = mute.getsockname()[1]
        start = time.monotonic()
        res = rpc.call(node_root.ip, "ping", timeout=0.4, port=port)
        assert res.fail_msg == f"Timeout after 0.4s connecting to {node_root.ip}:{port}"
        assert time.monotonic() - start < 3


def test_keep_alive_survives_a_restarted_daemon(node_root: NodeRoot, rpc: RpcClient) -> None:
    """Calls reuse one connection; after the daemon restarts on the same
    port, its closed connection is noticed and a new one made: no failed call."""
    server = NodeServer(node_root.ip, 0, cert_file=node_root.cert_file)
    thread = server.start_in_thread()
    port = server.port
    try:
        for _ in range(5):
            assert rpc.call(node_root.ip, "ping", port=port, timeout=5).data is True
        assert len(rpc._connections._idle[(node_root.ip, port)]) == 1  # one, reused
    finally:
        server.stop()
        thread.join(15)
    server = NodeServer(node_root.ip, port, cert_file=node_root.cert_file)
    thread = server.start_in_thread()
    try:
        res = rpc.call(node_root.ip, "ping", port=port, timeout=5)
        assert res.data is True, res.fail_msg
    finally:
        server.stop()
        thread.join(15)


def test_peer_check_refuses_after_handshake(node_root: NodeRoot, rpc: RpcClient) -> None:
    trust = TrustStore.from_files(node_root.cert_file, peer_check=lambda cert: False)
    server = NodeServer(node_root.ip, 0, cert_file=node_root.cert_file, trust=trust)
    thread = server.start_in_thread()
    try:
        res = rpc.call(server.address, "ping", port=server.port, timeout=5)
        assert res.fail_msg and res.remote_error is None
    finally:
        server.stop()
        thread.join(15)


def test_trust_store_with_several_anchors(node_root: NodeRoot, tmp_path: Path) -> None:
    """A node certificate other than the cluster's is accepted once it is an anchor."""
    other = tmp_path / "other.pem"
    write_bundle(other, generate_self_signed("other.gnt.test"))
    trust = TrustStore.from_files(node_root.cert_file, other)
    server = NodeServer(node_root.ip, 0, cert_file=node_root.cert_file, trust=trust)
    thread = server.start_in_thread()
    try:
        with RpcClient(cert_file=other, trust=TrustStore.from_files(node_root.cert_file)) as c:
            assert c.call(server.address, "ping", port=server.port).data is True
    finally:
        server.stop()
        thread.join(15)
