"""Domain routes (upstream ``handlers/domain_handlers.go``)."""

from __future__ import annotations

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._http.handlers._base import Call, Handler
from fakebbs._rules.state import State


def domains(state: State, request: Message, call: Call) -> models.DomainsResponse:
    return models.DomainsResponse(domains=state.fresh_domains())


def upsert_domain(
    state: State, request: models.UpsertDomainRequest, call: Call
) -> models.UpsertDomainResponse:
    state.upsert_domain(request.domain, request.ttl)
    return models.UpsertDomainResponse()


HANDLERS = {
    "Domains": Handler(domains),
    "UpsertDomain": Handler(upsert_domain),
}
