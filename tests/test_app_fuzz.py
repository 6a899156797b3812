"""Whatever bytes arrive, every route answers as the BBS does and the fake keeps its state whole.

Random bodies, and valid requests with bytes flipped, go to every non-streaming route
in-process; a handled answer is always 200 protobuf (an error inside it when the body is bad),
and nothing escapes a handler.
"""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs.routes import ROUTES, Route

PLAIN_ROUTES = [r for r in ROUTES if not r.stream]
FAKE = FakeBBS()
HTTP = Client(FAKE.wsgi_app)
VALID = models.DesireLRPRequest(desired_lrp=desired_lrp("fuzz", instances=2)).SerializeToString()


def answer(route: Route, body: bytes) -> Message:
    response = HTTP.open(route.path, method=route.method, data=body)
    assert response.status_code == 200, response.get_data()
    assert response.headers["Content-Type"] == "application/x-protobuf"
    assert route.response is not None
    decoded: Message = getattr(models, route.response).FromString(response.get_data())
    assert FAKE.wsgi_app.errors == []
    return decoded


@pytest.mark.parametrize("route", PLAIN_ROUTES, ids=lambda r: r.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300))
def test_random_bodies_get_a_protobuf_answer(route: Route, body: bytes) -> None:
    answer(route, body)


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), min_size=1, max_size=4
    )
)
def test_a_mangled_desire_either_applies_whole_or_changes_nothing(
    flips: list[tuple[int, int]],
) -> None:
    FAKE.reset()
    body = bytearray(VALID)
    for position, mask in flips:
        body[position] ^= mask

    response = answer(next(r for r in ROUTES if r.name == "DesireDesiredLRP"), bytes(body))

    desired, actual = FAKE.snapshot().desired_lrps, FAKE.snapshot().actual_lrps
    if response.HasField("error"):
        assert desired == {} and actual == {}
    else:
        [lrp] = desired.values()
        assert len(actual) == lrp.instances
