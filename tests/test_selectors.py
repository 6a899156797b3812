"""Route selectors and ``where``: which calls a fault, a hold or a journal query is about."""

from __future__ import annotations

import pytest

from builders import desired_lrp
from fakebbs import models
from fakebbs._control.selectors import lookup, resolve_routes, resolve_where


def test_a_route_name_selects_that_route_only() -> None:
    assert resolve_routes("DesireDesiredLRP") == {"DesireDesiredLRP"}


def test_a_star_suffix_selects_every_revision_of_the_operation() -> None:
    assert resolve_routes("DesireDesiredLRP*") == {
        "DesireDesiredLRP",
        "DesireDesiredLRP_r1",
        "DesireDesiredLRP_r0",
    }


def test_a_list_selects_the_union() -> None:
    assert resolve_routes(["Ping", "Domains"]) == {"Ping", "Domains"}


def test_star_selects_every_route() -> None:
    assert "Ping" in resolve_routes("*") and len(resolve_routes("*")) > 50


def test_an_unknown_name_is_an_error_naming_close_ones() -> None:
    with pytest.raises(ValueError, match=r"'DesireDesiredLrp'.*did you mean DesireDesiredLRP"):
        resolve_routes("DesireDesiredLrp")


def test_an_empty_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one route"):
        resolve_routes([])


def test_a_where_path_that_no_selected_request_has_is_an_error() -> None:
    with pytest.raises(ValueError, match="desired_lrp.instancez"):
        resolve_where(resolve_routes("DesireDesiredLRP*"), {"desired_lrp.instancez": 3})


def test_lookup_follows_nested_fields() -> None:
    request = models.DesireLRPRequest(desired_lrp=desired_lrp("web", instances=3))

    assert lookup(request, "desired_lrp.instances") == 3
    assert lookup(request, "desired_lrp.action.run_action.path") == "/bin/app"


def test_lookup_of_a_repeated_field_gives_every_element() -> None:
    request = models.DesiredLRPsRequest(process_guids=["a", "b"])

    assert lookup(request, "process_guids") == ["a", "b"]


def test_an_enum_reads_equal_to_its_name_and_its_number() -> None:
    layer = models.ImageLayer(url="http://x", layer_type=models.ImageLayer.EXCLUSIVE)
    request = models.DesireLRPRequest(desired_lrp=desired_lrp("web", image_layers=[layer]))

    [value] = lookup(request, "desired_lrp.image_layers.layer_type")

    assert value == "EXCLUSIVE"
    assert value == models.ImageLayer.EXCLUSIVE
    assert value != "SHARED"
