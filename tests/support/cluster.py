"""Test access to :mod:`gnt.devcluster`."""

from gnt.devcluster import GUEST_DIR, REPO, CmdResult, LocalCluster, wait_for

TestCluster = LocalCluster

__all__ = ["GUEST_DIR", "REPO", "CmdResult", "LocalCluster", "TestCluster", "wait_for"]
