"""The sweep refuses every target it should, before anything is sent: these tests plan
against a made-up host (plain data), never the machine's own interfaces."""

from __future__ import annotations

import ipaddress

import pytest

from reclaim.sweep.lan import LanOptions, SweepRefused, sweep
from reclaim.sweep.lan import target as target_module
from reclaim.sweep.lan.host import HostView, Interface
from reclaim.sweep.lan.target import plan_on

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address
HOST = HostView(
    (
        Interface("lo", A("127.0.0.1"), N("127.0.0.0/8"), None, up=True, loopback=True),
        Interface(
            "eth0",
            A("192.168.1.23"),
            N("192.168.1.0/24"),
            "ac:ed:5c:00:00:01",
            True,
            False,
            gateway=A("192.168.1.1"),
        ),
        Interface("wlan1", A("10.20.3.57"), N("10.20.0.0/16"), "ac:ed:5c:00:00:02", True, False),
        Interface("wlan2", A("172.20.5.9"), N("172.20.5.0/24"), "ac:ed:5c:00:00:03", True, False),
        Interface("usb0", None, None, None, up=True, loopback=False),
        Interface("eth9", A("10.9.9.9"), N("10.9.9.0/24"), None, up=False, loopback=False),
        Interface("pub0", A("203.0.113.5"), N("203.0.113.0/24"), None, True, False),
    )
)
DEFAULT = LanOptions()


def refusal(**kwargs: object) -> str:
    kwargs.setdefault("options", DEFAULT)
    kwargs.setdefault("interface", None)
    network = kwargs.pop("network", None)
    parsed = N(network) if isinstance(network, str) else None
    with pytest.raises(SweepRefused) as refused:
        plan_on(HOST, network=parsed, **kwargs)  # type: ignore[arg-type]
    return str(refused.value)


@pytest.fixture
def no_host_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argument refusals come before the host is even looked at."""

    def forbidden() -> HostView:
        raise AssertionError("the host was read before the arguments were checked")

    monkeypatch.setattr(target_module, "read_host", forbidden)


@pytest.mark.usefixtures("no_host_reads")
@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({}, "no target"),
        ({"interface": " "}, "empty"),
        ({"network": "10.0.0.0/16"}, "wider than /24"),
        ({"network": "192.168.0.0/23"}, "wider than /24"),
        ({"network": "8.8.8.0/24"}, "not a private network"),
        ({"network": "127.0.0.0/24"}, "loopback"),
        ({"network": "fd00::/120"}, "IPv6"),
        ({"network": "192.168.1.7/24"}, "not a network"),
        ({"network": "banana"}, "not a network"),
    ],
)
def test_bad_arguments_are_refused_without_touching_the_network(
    arguments: dict[str, str], says: str
) -> None:
    with pytest.raises(SweepRefused, match=says):
        sweep(**arguments)  # type: ignore[arg-type]


def test_the_limit_can_be_widened_to_a_22_and_no_further() -> None:
    with pytest.raises(ValueError, match="/22"):
        LanOptions(widest_prefix=21)
    wide = LanOptions(widest_prefix=22)
    target = plan_on(HOST, interface=None, network=N("10.20.0.0/22"), options=wide)
    assert target.interface == "wlan1"


def test_interface_refusals() -> None:
    assert "loopback" in refusal(interface="lo")
    assert "no interface" in refusal(interface="wlan9")
    assert "no IPv4 address" in refusal(interface="usb0")
    assert "down" in refusal(interface="eth9")
    assert "not a private network" in refusal(interface="pub0")


def test_a_hotel_sized_interface_network_is_refused_with_advice() -> None:
    message = refusal(interface="wlan1")
    assert "10.20.0.0/16" in message
    assert "65536 addresses" in message
    assert "--network 10.20.3.0/24 (around 10.20.3.57)" in message


def test_the_default_route_interface_needs_explicit_confirmation() -> None:
    message = refusal(interface="eth0")
    assert "default route" in message
    assert "allow_interface='eth0'" in message
    assert "allow_interface" in refusal(
        interface="eth0", options=LanOptions(allow_interface="wlan2")
    )
    target = plan_on(
        HOST, interface="eth0", network=None, options=LanOptions(allow_interface="eth0")
    )
    assert target.network == N("192.168.1.0/24")
    assert target.source == A("192.168.1.23")
    assert target.gateway == A("192.168.1.1")
    assert target.whole_link


def test_an_interface_without_default_route_is_its_own_subnet() -> None:
    target = plan_on(HOST, interface="wlan2", network=None, options=DEFAULT)
    assert str(target) == "172.20.5.0/24 on wlan2"


def test_a_network_must_be_on_a_connected_interface() -> None:
    assert "not on any network" in refusal(network="10.30.0.0/24")
    assert "not inside" in refusal(interface="wlan2", network="10.20.3.0/24")


def test_a_narrow_network_on_a_wide_link_is_allowed_but_not_whole_link() -> None:
    target = plan_on(HOST, interface=None, network=N("10.20.3.0/24"), options=DEFAULT)
    assert target.interface == "wlan1"
    assert target.link == N("10.20.0.0/16")
    assert not target.whole_link


@pytest.mark.parametrize(
    "bad",
    [
        {"rate": 0},
        {"rate": 5000},
        {"time_budget": 0},
        {"time_budget": 3600},
        {"probe_timeout": 0},
        {"workers": 0},
        {"widest_prefix": 33},
    ],
)
def test_options_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be between"):
        LanOptions(**bad)  # type: ignore[arg-type]
