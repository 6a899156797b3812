"""Security group rules (``models/security_groups.go``) and Go's ``net/url.Parse``, as
far as "does it succeed and yield a scheme" goes."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from fakebbs import models
from fakebbs._rules.validation.basics import invalid_field

# -- security group rules (models/security_groups.go) --------------------------------------


def _go_parse_ip(text: str) -> bytes | None:
    """``net.ParseIP``: the 16-byte form of an IPv4 or IPv6 address, None if invalid.

    Zones ("fe80::1%eth0") are rejected like Go does; Python's parser, like Go's, refuses
    IPv4 octets with leading zeros.
    """
    if "%" in text:
        return None
    try:
        return ipaddress.IPv6Address(f"::ffff:{ipaddress.IPv4Address(text)}").packed
    except ValueError:
        pass
    try:
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        return None


def _go_cidr_ok(text: str) -> bool:
    """``net.ParseCIDR`` succeeds: address (IPv4 → /0..32, else /0..128) and a decimal prefix."""
    address, _, prefix = text.partition("/")
    if "%" in address:
        return False
    bits: int
    try:
        ipaddress.IPv4Address(address)
        bits = 32
    except ValueError:
        try:
            ipaddress.IPv6Address(address)
            bits = 128
        except ValueError:
            return False
    if prefix == "" or not all("0" <= c <= "9" for c in prefix) or len(prefix) > 8:
        return False
    return int(prefix) <= bits


def _destination_items(destinations: Sequence[str]) -> list[str]:
    """``validateDestinations``: each comma-separated entry is an IP, a CIDR or an IP range.

    A range whose first address is greater contributes one "Invalid IP" per byte where it is
    greater, until a byte where it is smaller (upstream's loop ``continue``s after appending).
    """
    if len(destinations) == 0:
        return ["Must have at least 1 destination"]
    items: list[str] = []
    for entry in destinations:
        for d in entry.split(","):
            cut = min((i for i in (d.find("-"), d.find("/")) if i >= 0), default=-1)
            if cut == -1:
                if _go_parse_ip(d) is None:
                    items.append("Invalid IP")
            elif d[cut] == "/":
                if not _go_cidr_ok(d):
                    items.append(f"invalid CIDR address: {d}")
            else:
                first, second = _go_parse_ip(d[:cut]), _go_parse_ip(d[cut + 1 :])
                if first is None or second is None:
                    items.append("Invalid IP")
                    continue
                for a, b in zip(first, second, strict=False):
                    if a < b:
                        break
                    if a > b:
                        items.append("Invalid IP")
    return items


def _port_items(rule: models.SecurityGroupRule) -> list[str]:
    """``SecurityGroupRule.validatePorts`` (tcp/udp): exactly one of ports / port_range, sane."""
    has_range, has_ports = rule.HasField("port_range"), len(rule.ports) > 0
    if not has_range and not has_ports:
        return ["Missing required field: ports or port_range"]
    if has_range and has_ports:
        return ["Invalid: ports and port_range provided"]
    items: list[str] = []
    if has_range:
        start, end = rule.port_range.start, rule.port_range.end
        if start < 1:
            items.append(invalid_field("port_range"))
        if end < 1:
            items.append(invalid_field("port_range"))
        if start > end:
            items.append(invalid_field("port_range"))
    for port in rule.ports:
        if port < 1:
            items.append(invalid_field("ports"))
    return items


def validate_security_group_rule(rule: models.SecurityGroupRule) -> list[str]:
    """``SecurityGroupRule.Validate()``: protocol-specific port/ICMP rules, then destinations."""
    items: list[str] = []
    has_range, has_ports = rule.HasField("port_range"), len(rule.ports) > 0
    has_icmp = rule.HasField("icmp_info")
    protocol = rule.protocol
    if protocol in ("tcp", "udp"):
        items = _port_items(rule)
        if has_icmp:
            items.append(invalid_field("icmp_info"))
    elif protocol in ("icmp", "icmpv6"):
        if has_range:
            items.append(invalid_field("port_range"))
        if has_ports:
            items.append(invalid_field("ports"))
        if not has_icmp:
            items.append(invalid_field("icmp_info" if protocol == "icmp" else "icmpv6_info"))
    elif protocol == "all":
        if has_range:
            items.append(invalid_field("port_range"))
        if has_ports:
            items.append(invalid_field("ports"))
        if has_icmp:
            items.append(invalid_field("icmp_info"))
    else:
        items.append(invalid_field("protocol"))
    destination_items = _destination_items(rule.destinations)
    if destination_items:
        items.append(invalid_field("destinations [ " + ", ".join(destination_items) + " ]"))
    return items


# --------------------------------------------------------------------------------------------
# Go's net/url.Parse, as far as "does it succeed and yield a scheme" goes


_HOST_OK = frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_OK = frozenset("-._:~!$&'()*+,;=%@")
_HEX = frozenset("0123456789abcdefABCDEF")


def _is_alnum(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9"


def _host_char_needs_escape(c: str) -> bool:
    """``shouldEscape(c, encodeHost)`` for an ASCII character."""
    return not (_is_alnum(c) or c in _HOST_OK)


def _unescape_ok(text: str, mode: str) -> bool:
    """``url.unescape(text, mode)`` succeeds (mode: "path", "fragment", "user", "host", "zone")."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                return False
            if mode == "host" and int(text[i + 1], 16) < 8 and text[i : i + 3] != "%25":
                return False
            if mode == "zone":
                value = chr(int(text[i + 1 : i + 3], 16))
                if text[i : i + 3] != "%25" and value != " " and _host_char_needs_escape(value):
                    return False
            i += 3
            continue
        if mode in ("host", "zone") and ord(c) < 0x80 and _host_char_needs_escape(c):
            return False
        i += 1
    return True


def _valid_optional_port(port: str) -> bool:
    """``validOptionalPort``: empty, or ":" followed by digits."""
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _host_ok(host: str) -> bool:
    """``parseHost`` succeeds."""
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0 or not _valid_optional_port(host[close + 1 :]):
            return False
        zone = host[:close].find("%25")
        if zone >= 0:
            return (
                _unescape_ok(host[:zone], "host")
                and _unescape_ok(host[zone:close], "zone")
                and _unescape_ok(host[close:], "host")
            )
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            return False
    return _unescape_ok(host, "host")


def _authority_ok(authority: str) -> bool:
    """``parseAuthority`` succeeds: host, then (if there is an "@") the userinfo."""
    at = authority.rfind("@")
    if not _host_ok(authority[at + 1 :] if at >= 0 else authority):
        return False
    if at < 0:
        return True
    userinfo = authority[:at]
    if not all(_is_alnum(c) or c in _USERINFO_OK for c in userinfo):
        return False
    return all(_unescape_ok(part, "user") for part in userinfo.split(":", 1))


@functools.lru_cache(maxsize=1024)
def go_url_has_scheme(raw: str) -> bool:
    """``url.Parse(raw)`` succeeds and yields a non-empty scheme (the rootfs rule).

    Mirrors Go's ``net/url`` parse steps: control characters, ``getScheme``, the opaque
    (``scheme:rest``) short cut, authority and path/fragment percent-escapes. Remembered per
    text: a suite desires the same few root filesystems over and over.
    """
    rest_of_url, hash_sign, fragment = raw.partition("#")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rest_of_url):
        return False
    colon = -1
    for i, c in enumerate(rest_of_url):
        if "a" <= c <= "z" or "A" <= c <= "Z":
            continue
        if ("0" <= c <= "9" or c in "+-.") and i > 0:
            continue
        if c == ":" and i > 0:
            colon = i
        break
    if colon <= 0:
        return False
    rest = rest_of_url[colon + 1 :]
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.partition("?")[0]
    if rest.startswith("/"):
        if rest.startswith("//"):
            authority, slash, path = rest[2:].partition("/")
            if not _authority_ok(authority):
                return False
            rest = slash + path
        if not _unescape_ok(rest, "path"):
            return False
    return not hash_sign or fragment == "" or _unescape_ok(fragment, "fragment")
