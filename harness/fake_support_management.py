"""A small SupportManagement server on loopback for the errand adapter's tests.

It checks every request against SupportManagement's published OpenAPI description
(../shared/reference/supportmanagement/openapi.yaml, copied to harness/reference/): the path's
parameters, the bearer token, and the body against the `Errand` schema (JSON Schema 2020-12 with
the description's components), and refuses what does not fit with 400 and the reasons. It can be
made to fail (503), to refuse (400), or to hold an answer until the test lets it go.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

OPENAPI = Path(__file__).resolve().parent / "reference" / "supportmanagement" / "openapi.yaml"
BASE = "urn:supportmanagement"
CREATE = "/{municipalityId}/{namespace}/errands"


@cache
def description() -> dict[str, Any]:
    """Return the OpenAPI description (parsed once)."""
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text("utf-8"))
    return loaded


@cache
def validator(schema: str) -> Draft202012Validator:
    """Return a validator for one component schema, its references resolved in the document."""
    resource: Resource[Any] = DRAFT202012.create_resource(description())
    registry: Registry[Any] = Registry().with_resource(BASE, resource)
    return Draft202012Validator({"$ref": f"{BASE}#/components/schemas/{schema}"}, registry=registry)


def read_only(schema: str) -> set[str]:
    """Return the properties a client must not send (readOnly in the description)."""
    properties = description()["components"]["schemas"][schema]["properties"]
    return {name for name, spec in properties.items() if spec.get("readOnly")}


def problems(body: Any, schema: str = "Errand") -> list[str]:
    """Return why a body does not fit a schema (empty when it does)."""
    found = [error.message for error in validator(schema).iter_errors(body)]
    if isinstance(body, dict):
        found += [f"{name} is read-only" for name in read_only(schema) & set(body)]
    return found


def path_problems(municipality: str, namespace: str) -> list[str]:
    """Check the create call's path parameters against the description."""
    operation = description()["paths"][CREATE]["post"]
    found = []
    for parameter in operation["parameters"]:
        if parameter["in"] != "path":
            continue
        value = {"municipalityId": municipality, "namespace": namespace}[parameter["name"]]
        pattern = parameter["schema"].get("pattern")
        if not value or (pattern and not re.fullmatch(pattern, value)):
            found.append(f"{parameter['name']}: {value!r}")
    return found


@dataclass
class SupportManagement:
    """The server's state: errands made, requests seen, and how it should behave."""

    token: str
    errands: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    rejected: list[list[str]] = field(default_factory=list)
    fail: bool = False  # answer 503
    refuse: bool = False  # answer 400 to a create
    hold: asyncio.Event | None = None  # create the errand, then wait for this before answering
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{municipality}/{namespace}/errands", self.create)
        app.router.add_get("/{municipality}/{namespace}/errands", self.search)
        app.router.add_get("/{municipality}/{namespace}/errands/{errand_id}", self.read)
        return app

    def _guard(self, request: web.Request) -> None:
        if self.fail:
            raise web.HTTPServiceUnavailable(text="down for maintenance")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise web.HTTPUnauthorized()
        reasons = path_problems(request.match_info["municipality"], request.match_info["namespace"])
        if reasons:
            self.rejected.append(reasons)
            raise web.HTTPBadRequest(text="; ".join(reasons))

    async def create(self, request: web.Request) -> web.Response:
        self._guard(request)
        body = await request.json()
        self.requests.append(("POST", request.path, body))
        reasons = problems(body)
        if reasons:
            self.rejected.append(reasons)
            return web.json_response(
                {"title": "Constraint Violation", "status": 400, "detail": "; ".join(reasons)},
                status=400,
                content_type="application/problem+json",
            )
        if self.refuse:
            return web.json_response(
                {"title": "Bad Request", "status": 400, "detail": "unknown category"},
                status=400,
                content_type="application/problem+json",
            )
        errand_id = str(uuid.uuid4())
        number = f"KC-2603{len(self.errands) + 1:04d}"
        self.errands[errand_id] = {**body, "id": errand_id, "errandNumber": number}
        if self.hold is not None:
            await self.hold.wait()
        location = f"/{request.match_info['municipality']}/{request.match_info['namespace']}"
        return web.Response(status=201, headers={"Location": f"{location}/errands/{errand_id}"})

    async def search(self, request: web.Request) -> web.Response:
        self._guard(request)
        self.requests.append(("GET", request.path_qs, None))
        wanted = re.search(r"externalTags\.value:'([^']*)'", request.query.get("filter", ""))
        content = [
            errand
            for errand in self.errands.values()
            if wanted
            and any(tag.get("value") == wanted.group(1) for tag in errand.get("externalTags", []))
        ]
        page = {"content": content, "totalElements": len(content), "empty": not content}
        assert not problems(page, "PageErrand"), problems(page, "PageErrand")
        return web.json_response(page)

    async def read(self, request: web.Request) -> web.Response:
        self._guard(request)
        self.requests.append(("GET", request.path, None))
        errand = self.errands.get(request.match_info["errand_id"])
        if errand is None:
            raise web.HTTPNotFound()
        return web.json_response(errand)

    def posts(self) -> list[dict[str, Any]]:
        """Return the bodies of every create request, in order."""
        return [body for method, _, body in self.requests if method == "POST"]
