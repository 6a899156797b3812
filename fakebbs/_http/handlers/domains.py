"""Domain routes (upstream ``handlers/domain_handlers.go``)."""

from __future__ import annotations

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._http.handlers._base import Context, Handler
from fakebbs._rules.state import State


def domains(state: State, request: Message, call: Context) -> models.DomainsResponse:
    return models.DomainsResponse(domains=state.fresh_domains())


def upsert_domain(
    state: State, request: models.UpsertDomainRequest, call: Context
) -> models.UpsertDomainResponse:
    state.upsert_domain(request.domain, request.ttl)
    return models.UpsertDomainResponse()


HANDLERS = {
    "Domains": Handler(domains),
    "UpsertDomain": Handler(upsert_domain),
}
