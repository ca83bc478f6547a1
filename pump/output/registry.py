"""A Schema Registry's REST API (Confluent's, which Apicurio's ``/apis/ccompat/v7`` serves too): the few calls a replay
makes before it sends, through httpx. Every failure leaves as one ``RegistryError`` line naming the subject and the
registry's own reason; the password never appears in one.

    register(subject, schema)   POST /subjects/{subject}/versions        -> the schema's id (the same id if it is there)
    lookup(subject, schema)     POST /subjects/{subject}                 -> its id, if registered under the subject
    latest(subject)             GET  /subjects/{subject}/versions/latest -> the subject's latest schema and its id
    schema(id)                  GET  /schemas/ids/{id}                   -> a schema by id (reading values back)
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import msgspec

from pump.config import Secret
from pump.errors import RegistryError

SchemaType = Literal["AVRO", "JSON"]
_CONTENT = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True, slots=True)
class Registered:
    """A schema as the registry holds it: its id (what the wire format's 4 bytes carry) and its text."""

    id: int
    schema: str
    schema_type: SchemaType


class Registry:
    """``url``: the registry's base (``https://host:8081``, or Apicurio's ``.../apis/ccompat/v7``)."""

    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: Secret | None = None,
        cafile: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        import httpx  # the registry's client is an extra (pump[registry]); imported where it is used

        self.url = url.rstrip("/")
        auth = httpx.BasicAuth(user, password.reveal()) if user is not None and password is not None else None
        verify: Any = True
        if cafile is not None:
            try:
                verify = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise RegistryError(f"--registry-cafile {cafile}: {_reason(exc)}") from None
        self._http = httpx.Client(base_url=self.url, auth=auth, verify=verify, timeout=timeout,
                                  headers={"Accept": _CONTENT, "Content-Type": _CONTENT})  # fmt: skip
        self._errors = (httpx.HTTPError, OSError)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def register(self, subject: str, schema: str, schema_type: SchemaType) -> Registered:
        body = {"schema": schema, "schemaType": schema_type}
        answer = self._call("POST", f"/subjects/{quote(subject, safe='')}/versions", subject, body)
        return Registered(int(answer["id"]), schema, schema_type)

    def lookup(self, subject: str, schema: str, schema_type: SchemaType) -> Registered:
        body = {"schema": schema, "schemaType": schema_type}
        answer = self._call("POST", f"/subjects/{quote(subject, safe='')}", subject, body)
        return Registered(int(answer["id"]), schema, schema_type)

    def latest(self, subject: str) -> Registered:
        answer = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions/latest", subject)
        return Registered(int(answer["id"]), answer["schema"], answer.get("schemaType", "AVRO"))

    def schema(self, schema_id: int) -> Registered:
        answer = self._call("GET", f"/schemas/ids/{schema_id}", f"schema id {schema_id}")
        return Registered(schema_id, answer["schema"], answer.get("schemaType", "AVRO"))

    def _call(self, method: str, path: str, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        content = msgspec.json.encode(body) if body is not None else None
        try:
            response = self._http.request(method, path, content=content)
        except self._errors as exc:
            raise RegistryError(f"schema registry {self.url}: cannot reach it ({_reason(exc)})") from None
        if response.status_code >= 400:
            raise RegistryError(f"schema registry {self.url}: subject {subject!r}: {_refusal(response)}")
        try:
            answer = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise RegistryError(f"schema registry {self.url}: {method} {path} answered what is not JSON") from None
        if not isinstance(answer, dict):
            raise RegistryError(f"schema registry {self.url}: {method} {path} answered {answer!r}")
        return answer


_MEANS = {401: "not authorized (check --registry-user and the password)", 403: "forbidden",
          409: "the schema is incompatible with the subject's versions", 404: "not found"}  # fmt: skip


def _refusal(response: Any) -> str:
    """The registry's reason: Confluent's ``{"error_code": 409, "message": ...}``, else the status line."""
    try:
        said = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        said = None
    message = said.get("message") if isinstance(said, dict) else None
    code = said.get("error_code") if isinstance(said, dict) else None
    what = _MEANS.get(response.status_code, "")
    parts = [
        f"HTTP {response.status_code}" + (f" (error {code})" if code else ""),
        what,
        " ".join(str(message).split()) if message else "",
    ]
    return ": ".join(p for p in parts if p)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
