"""Instance NICs on a node: how their host side is wired, hypervisor-agnostic.

* :mod:`.vlan` - Ganeti's ``vlan`` NIC parameter syntax;
* :mod:`.env` - the environment NIC scripts get (Ganeti's names);
* :mod:`.modes` - the built-in ``up``/``down`` of the ``bridged``, ``routed``
  and ``openvswitch`` modes (what Ganeti's shipped scripts do);
* :mod:`.scripts` - choosing between a site script and the built-in, and
  running it.

The hypervisor drivers create the host devices (KVM: taps in
:mod:`gnt.hypervisor.kvm.network`) and call :func:`.scripts.nic_up` /
:func:`.scripts.nic_down` with :func:`.env.nic_env`.
"""
