"""URL vetting refuses every IPv6 form that carries a private IPv4 inside it.

NAT64 (`64:ff9b::/96`, local-use `64:ff9b:1::/48`), 6to4 (`2002::/16`), IPv4-mapped, -compatible
and -translated addresses, and Teredo all route to (or are translated into) the IPv4 they embed,
so `http://[64:ff9b::7f00:1]/` is loopback and `http://[2002:a9fe:a9fe::]/` is the cloud metadata
service. Literal addresses resolve without a network, so these tests run offline.
"""

from __future__ import annotations

import ipaddress

import pytest

from reelforge.errors import InputNotAllowed
from reelforge.security import check_public_url, embedded_ipv4, is_public_address

REFUSED = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix -> 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 -> 169.254.169.254 (cloud metadata)
    "64:ff9b::a00:1",  # NAT64 -> 10.0.0.1
    "64:ff9b:1::7f00:1",  # local-use NAT64 (RFC 8215), /96 layout
    "64:ff9b:1:7f00:1::",  # local-use NAT64, /48 layout (RFC 6052 skips bits 64-71)
    "64:ff9b:1:a9fe:a9:fe00::",  # local-use NAT64 /48 layout -> 169.254.169.254
    "2002:7f00:1::",  # 6to4 -> 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 -> 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 -> 192.168.1.1
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible (deprecated, still routed by some stacks)
    "::a9fe:a9fe",
    "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:7f00:1:8000:63bf:3fff:fdd2",  # Teredo, server 127.0.0.1
    "::1",
    "fe80::1",
    "fc00::1",
]
ACCEPTED = [
    "64:ff9b::808:808",  # NAT64 to a public IPv4 (8.8.8.8) is fine
    "2002:808:808::1",  # 6to4 of a public IPv4
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_embedding_a_non_global_ipv4_are_refused(address, settings):
    assert not is_public_address(ipaddress.ip_address(address))
    with pytest.raises(InputNotAllowed, match="private or loopback"):
        check_public_url(f"http://[{address}]/frame.png", settings, param="image")


@pytest.mark.parametrize("address", ACCEPTED)
def test_public_ipv6_and_public_embedded_ipv4_pass(address, settings):
    assert is_public_address(ipaddress.ip_address(address))
    url = f"https://[{address}]/frame.png"
    assert check_public_url(url, settings, param="image") == url


def test_embedded_ipv4_decodes_each_layout():
    def v4(address: str) -> set[str]:
        return {str(a) for a in embedded_ipv4(ipaddress.IPv6Address(address))}

    assert "127.0.0.1" in v4("64:ff9b::7f00:1")
    assert "169.254.169.254" in v4("2002:a9fe:a9fe::1")
    assert "127.0.0.1" in v4("64:ff9b:1:7f00:0:100::")
    assert v4("2001:0:4136:e378:8000:63bf:80ff:fffe") >= {"65.54.227.120", "127.0.0.1"}
    assert "127.0.0.1" in v4("::127.0.0.1")
    assert v4("2606:4700:4700::1111") == set()


def test_plain_ipv4_forms_still_refused(settings):
    for url in ("http://127.0.0.1/a.png", "http://169.254.169.254/latest", "http://0x7f.1/a.png", "http://[::]/a.png"):
        with pytest.raises(InputNotAllowed):
            check_public_url(url, settings, param="image")
