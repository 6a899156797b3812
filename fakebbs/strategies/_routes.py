"""Route tables in the shapes the routers read: the ``cf-router`` entries of
``code.cloudfoundry.org/routing-info/cfroutes`` and the ``tcp-router`` entries of its
``tcp_routes`` package, as the compact JSON the BBS stores; and ``ProtoRoutes`` made of them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.strategies._common import go_json, named, names, route_json, shown_as_call

__all__ = ["cf_router_routes", "proto_routes", "tcp_router_routes"]

CF_ROUTER = "cf-router"
TCP_ROUTER = "tcp-router"

_PORTS = st.one_of(st.sampled_from([8080, 8443, 9000]), st.integers(1, 65535))
_EXTERNAL_PORTS = st.integers(1024, 65535)
_NAMES = names()
_HOSTS = st.lists(_NAMES, min_size=1, max_size=2, unique=True)
_FLAGS = st.booleans()


@st.composite
def _cf_route(draw: st.DrawFn) -> dict[str, Any]:
    # the fields in cfroutes.CFRoute's order, omitempty ones left out when empty
    hosts = draw(_HOSTS)
    route: dict[str, Any] = {
        "hostnames": [f"{host}.example.com" for host in hosts],
        "port": draw(_PORTS),
    }
    if draw(_FLAGS):
        route["route_service_url"] = "https://route-service.example.com/" + draw(_NAMES)
    if draw(_FLAGS):
        route["router_group_guid"] = draw(_NAMES)
    return route


@st.composite
def _tcp_route(draw: st.DrawFn) -> dict[str, Any]:
    # the fields in tcp_routes.TCPRoute's order, omitempty ones left out when empty
    route: dict[str, Any] = {
        "router_group_guid": draw(_NAMES),
        "external_port": draw(_EXTERNAL_PORTS),
        "container_port": draw(_PORTS),
    }
    if draw(_FLAGS):
        route["backend_sni_hostname"] = draw(_NAMES) + ".example.com"
    if draw(_FLAGS):
        route["terminate_frontend_tls"] = True
    if draw(_FLAGS):
        route["enable_backend_mtls"] = True
    return route


@shown_as_call
def cf_router_routes(*, max_routes: int = 2) -> SearchStrategy[bytes]:
    """A well-formed ``cf-router`` table (a list of hostnames-and-port routes, with a route
    service or router group now and then), as the compact JSON the BBS stores."""
    table = st.lists(_cf_route(), max_size=max_routes).map(go_json)
    return named(table, f"cf_router_routes(max_routes={max_routes})")


@shown_as_call
def tcp_router_routes(*, max_routes: int = 2) -> SearchStrategy[bytes]:
    """A well-formed ``tcp-router`` table (router group, external and container port, TLS
    options now and then), as the compact JSON the BBS stores."""
    table = st.lists(_tcp_route(), max_size=max_routes).map(go_json)
    return named(table, f"tcp_router_routes(max_routes={max_routes})")


@st.composite
def _routes(
    draw: st.DrawFn,
    tables: tuple[tuple[str, SearchStrategy[bytes]], ...],
    chosen: SearchStrategy[list[int]],
) -> models.ProtoRoutes:
    routes: dict[str, bytes] = {}
    for index in sorted(draw(chosen)):
        router, table = tables[index]
        routes[router] = draw(table)
    return models.ProtoRoutes(routes=routes)


@shown_as_call
def proto_routes(
    *, max_routes: int = 3, other_routers: bool = True
) -> SearchStrategy[models.ProtoRoutes]:
    """Routes keyed by router name, values in the compact JSON the BBS stores: a well-formed
    ``cf-router`` and ``tcp-router`` table and, with ``other_routers``, routers of other
    names carrying any JSON; at most ``max_routes`` routers."""
    tables: list[tuple[str, SearchStrategy[bytes]]] = [
        (CF_ROUTER, cf_router_routes()),
        (TCP_ROUTER, tcp_router_routes()),
    ]
    if other_routers:
        tables += [("internal-router", route_json()), ("x-router", route_json())]
    name = (
        f"proto_routes(max_routes={max_routes}{'' if other_routers else ', other_routers=False'})"
    )
    chosen = st.lists(
        st.integers(0, len(tables) - 1), unique=True, max_size=min(max_routes, len(tables))
    )
    return named(_routes(tuple(tables), chosen), name)
