"""`persona serve`: a local web app over the persona library and its review.

Server-rendered pages from the standard library's WSGI server and Jinja2 (already a dependency),
a few lines of JavaScript for the evidence dialog, nothing from a CDN: it works with no model
and no network. It reads and writes the same decision store as `persona review` (no second
source of truth), so the CLI and the browser can be used side by side.

Safety, since a browser on the same machine can be made to talk to it by any web page:
- bound to 127.0.0.1 unless told otherwise, never to every interface;
- a request whose Host header is not the bound host:port is refused (DNS rebinding);
- a POST whose Origin (or, without one, Referer) is another site is refused, and every form
  carries a per-server CSRF token;
- `--share` serves a read-only library with participants' names replaced by their ids.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from . import refs
from .decisions import (
    FIELDS,
    JOURNEY_PREFIX,
    POSITION,
    ConflictError,
    DecisionStore,
    JourneyAddress,
    Mark,
    ReviewError,
    entry_for,
    get_path,
    item_key,
    journey_spec_for,
    load_store,
    parse_address,
    parse_journey_address,
    parse_target,
    resolve_journey_target,
    seen_revision,
    spec_for,
)
from .errors import PersonaError
from .library import (
    DocumentIndex,
    Inputs,
    Pseudonymizer,
    View,
    chunk_context,
    participant_names,
    read_inputs,
    view_of,
)
from .models import Persona, Recommendation
from .render.context import (
    ReportData,
    cited_chunk_ids,
    group_theme_people,
    load_chunks,
    pct,
    report_data,
    theme_reach,
    ticket_subjects_for,
)
from .render.html import (
    AVATAR_COLOURS,
    MATRIX_THEMES,
    Cites,
    PersonaView,
    _initials,
    emotion_svg,
    matrix_svg,
    provenance,
    reach,
    stage_emotions,
)
from .render.markdown import (
    ADDED_IN_REVIEW,
    EMOTION_WORDS,
    REVIEW_MARKS,
    STAGE_TITLES,
    doc_basis,
    plural,
    validation_text,
)
from .render.summary import groups_with_themes
from .workspace import Workspace

FILES = Path(__file__).parent / "serve_files"
LIBRARY_CSS = Path(__file__).parent / "render" / "templates" / "library.css"
STATIC = {
    "serve.css": ("text/css; charset=utf-8", FILES / "serve.css"),
    "serve.js": ("text/javascript; charset=utf-8", FILES / "serve.js"),
    "library.css": ("text/css; charset=utf-8", LIBRARY_CSS),
}
MAX_BODY = 256 * 1024
HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
]
REVIEWER_COOKIE = "persona_reviewer"
SHARE_COOKIE = "persona_share"


class ServeError(PersonaError):
    """`persona serve` cannot start (address in use, an unsafe bind address)."""


class Raw(str):
    """Text that share mode must leave as it is: URLs, tokens, addresses."""

    __slots__ = ()


class HTTPError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- review controls


@dataclass(frozen=True)
class Control:
    """The review form of one field, list item or pain point part, as the page shows it."""

    pos: str
    address: str
    rev: int
    kind: str
    text: str
    lines: bool
    can_correct: bool
    can_extend: bool
    mark: Mark | None
    # One list item: it can be removed from its list.
    can_remove: bool = False
    # A value picked from a few (an emotion, -2..2): (value, label) pairs for a choice.
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Removed:
    """A list item a reviewer removed, shown under its list with a Restore control."""

    address: str
    rev: int
    text: str
    by: str
    at: str
    comment: str


def _text_of(kind: str, value: Any) -> tuple[str, bool]:
    """What the correction box starts with, and whether it takes one item per line."""
    if kind == "list":
        texts = [
            v.get("text") or v.get("title") or "" if isinstance(v, dict) else str(v)
            for v in value or []
        ]
        return "\n".join(texts), True
    if isinstance(value, dict):
        return str(value.get("text") or value.get("title") or ""), False
    return "" if value is None else str(value), False


def who_wrote(mark: Mark) -> str:
    """Who decided, when and why (a tooltip, with a colleague's confirmation: see provenance),
    with the reviewers who extended the field first or after."""
    text = provenance(mark)
    if mark.earlier_by:
        text += f" (after {' and '.join(b or 'a reviewer' for b in mark.earlier_by)} extended it)"
    if mark.extended_by:
        text += f"; extended by {' and '.join(b or 'a reviewer' for b in mark.extended_by)}"
    return text


class PageView(PersonaView):
    """A persona as the web app shows it: the report's view plus a review form per target."""

    store: DecisionStore | None = None
    lineage: dict[str, str] | None = None

    def origin(self, pos: str) -> tuple[str, str]:
        """('human' | 'model', who and when) for a field or item as shown."""
        found = self.item_mark(pos)
        if pos.startswith(JOURNEY_PREFIX):
            # A journey list item's list: the position without its trailing index (and part).
            parts = pos.split(".")
            while parts and (parts[-1].isdigit() or parts[-1] in ("action", "goal", "metric")):
                parts.pop()
            field = ".".join(parts)
            known = True
        else:
            match = POSITION.match(pos)
            field = match["field"] if match and pos not in FIELDS else pos
            known = field in FIELDS
        if found is None and known and field != pos:
            whole = self.item_mark(field)
            if whole is not None:  # the item as drafted, in a list a reviewer decided
                return "model", f"written by the drafter; the list was {who_wrote(whole)}"
        if found is None:
            return "model", "written by the drafter; not reviewed yet"
        if found.human:
            return "human", who_wrote(found)
        return "model", f"written by the drafter; {who_wrote(found)}"

    @property
    def data(self) -> dict[str, Any]:
        """The draft as JSON, dumped once per page."""
        cached = self.__dict__.get("_data")
        if cached is None:
            cached = self.__dict__["_data"] = self.persona.draft.model_dump(mode="json")
        return cached

    @property
    def journey_data(self) -> dict[str, Any]:
        """The reviewed journey draft as JSON, dumped once per page."""
        cached = self.__dict__.get("_journey_data")
        if cached is None:
            draft = self.journey.draft.model_dump(mode="json") if self.journey else {}
            cached = self.__dict__["_journey_data"] = draft
        return cached

    def journey_ctl(
        self, pos: str, mark: Mark | None, held: Any, lineage: dict[str, str]
    ) -> Control:
        """The review control of a journey part ('journey.stages.0.actions.1')."""
        data = self.journey_data
        address, _ = resolve_journey_target(data, pos, lineage)
        if mark is not None and held is not None and mark.address in held.fields:
            address = parse_journey_address(mark.address)  # its item may read otherwise now
        spec = journey_spec_for(address)
        value = get_path(data, pos.removeprefix(JOURNEY_PREFIX))
        if address.inner.field == "pain_points" and address.stage is not None:
            # A stage's pain points are theme ids: the form names them as the page does.
            ids = value if isinstance(value, list) else [value] if value else []
            labels = [self.report.theme_label(str(t)) for t in ids]
            value = labels if isinstance(value, list) else (labels[0] if labels else value)
        text, lines = _text_of(spec.kind, value)
        choices: tuple[tuple[str, str], ...] = ()
        if address.inner.field == "emotion":
            choices = tuple((str(n), f"{n:+d} {EMOTION_WORDS[n]}") for n in sorted(EMOTION_WORDS))
        # A recommendation is corrected part by part (action, goal, metric).
        whole_item = isinstance(value, dict) and "action" in value
        return Control(
            pos=pos,
            address=Raw(str(address)),
            rev=seen_revision(held, address, lineage),
            kind=spec.kind,
            text=text,
            lines=lines,
            can_correct=not whole_item
            and spec.kind in ("text", "claim", "list", "other")
            and not (spec.kind == "list" and spec.item is Recommendation),
            can_extend=spec.kind in ("text", "claim", "list")
            and address.inner.field not in ("pain_points", "recommendations"),
            mark=mark,
            can_remove=address.inner.item is not None and address.inner.sub is None,
            choices=choices,
        )

    def removed(self, pos: str) -> list[Removed]:
        """The items removed from the list at a positional path ('goals',
        'journey.stages.3.pain_points'), oldest first; their reset restores them."""
        found = entry_for(self.store, self.persona) if self.store else None
        if found is None:
            return []
        held, lineage = found[1], self.lineage or {}
        stages = [s.get("stage") for s in self.journey_data.get("stages") or []]
        out = []
        for text, decision in sorted(held.active().items(), key=lambda p: p[1].rev):
            if decision.decision != "removed":
                continue
            try:
                address = parse_target(text)
            except ReviewError:
                continue  # a field a later model dropped
            if isinstance(address, JourneyAddress):
                if address.stage is not None and address.stage not in stages:
                    continue
                stage = (
                    f"stages.{stages.index(address.stage)}." if address.stage is not None else ""
                )
                at = f"{JOURNEY_PREFIX}{stage}{address.inner.field}"
            else:
                at = address.field
            if at != pos:
                continue
            shown = decision.base
            if isinstance(shown, dict):
                shown = shown.get("text") or shown.get("title") or shown.get("action") or ""
            elif isinstance(address, JourneyAddress) and address.inner.field == "pain_points":
                shown = self.report.theme_label(str(shown)) if self.report else shown
            out.append(
                Removed(
                    address=Raw(text),
                    rev=seen_revision(held, address, lineage),
                    text="" if shown is None else str(shown),
                    by=decision.by,
                    at=decision.at,
                    comment=decision.comment,
                )
            )
        return out

    def ctl(self, pos: str) -> Control:
        """The review control of a positional path ('summary', 'goals.1', 'pain_points.0.impact')."""
        mark = self.item_mark(pos)
        found = entry_for(self.store, self.persona) if self.store else None
        held = found[1] if found else None
        lineage = self.lineage or {}
        if pos.startswith(JOURNEY_PREFIX):
            return self.journey_ctl(pos, mark, held, lineage)
        data = self.data
        if pos in FIELDS:
            address = parse_address(pos)
        else:
            match = POSITION.match(pos)
            if match is None:
                raise ReviewError(f"no review target '{pos}'")
            field, sub = match["field"], match["sub"]
            item = get_path(data, f"{field}.{match['index']}")
            text = f"{field}[{item_key(item, lineage)}]" + (f".{sub}" if sub else "")
            if mark is not None and held is not None and mark.address in held.fields:
                text = mark.address  # the decision's own address (its item may read otherwise)
            address = parse_address(text)
        spec = spec_for(address)
        text, lines = _text_of(spec.kind, get_path(data, pos))
        item_kind = spec.kind
        if spec.kind == "list":
            from .decisions import item_kind as kind_of_items

            item_kind = kind_of_items(spec)
        can_correct = spec.kind in ("text", "claim", "quote") or (
            spec.kind == "list" and item_kind != "pain"
        )
        return Control(
            pos=pos,
            address=Raw(str(address)),
            rev=seen_revision(held, address, lineage),
            kind=spec.kind,
            text=text,
            lines=lines,
            can_correct=can_correct,
            can_extend=spec.kind in ("text", "claim", "list"),
            mark=mark,
            can_remove=address.item is not None and address.sub is None,
        )


class WebCites(Cites):
    """Citation numbers whose links open the evidence in its context (one click away)."""

    def __init__(
        self, data: ReportData, prefix: str, back: str, persona: Persona | None = None
    ) -> None:
        super().__init__(data, prefix, persona)
        self.back = back

    def __call__(self, refs_: Iterable[str], focus: str | None = None) -> list[tuple[int, str]]:  # type: ignore[override]
        numbered = super().__call__(refs_, focus)
        ordered = list(dict.fromkeys(refs_))
        return [
            (n, Raw(_url("evidence", ref=ref, back=self.back)))
            for (n, _), ref in zip(numbered, ordered, strict=True)
        ]


# --------------------------------------------------------------------------- the site


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request log on the terminal would bury the one line that matters (the URL)


@dataclass
class Snapshot:
    """The library as last read, with the file stamps it was read from."""

    stamp: tuple[Any, ...]
    view: View
    data: ReportData


class Site:
    """The WSGI application: routing, the safety checks, pages and review actions."""

    def __init__(
        self, workspace: Workspace, share: bool = False, reviewer: str | None = None
    ) -> None:
        from .decisions import reviewer as default_reviewer

        self.workspace = workspace
        self.share_only = share
        self.default_reviewer = default_reviewer(reviewer)
        self.token = secrets.token_urlsafe(32)
        self.allowed_hosts: set[str] = set()
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._inputs: tuple[tuple[Any, ...], Inputs] | None = None
        self._chunks: tuple[tuple[Any, ...], dict[str, Any], dict[str, str]] | None = None
        self._people: tuple[Any, dict[str, set[str]]] | None = None
        self._documents = DocumentIndex(workspace.documents)
        self._pseudonymizer: tuple[tuple[Any, ...], Pseudonymizer] | None = None
        self._envs: dict[bool, Environment] = {}

    # ------------------------------------------------------------------ data
    def _stamp(self, *paths: Path) -> tuple[Any, ...]:
        out = []
        for path in paths:
            try:
                stat = path.stat()
                out.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    def snapshot(self) -> Snapshot:
        """The library, re-read only when one of its files changed."""
        ws = self.workspace
        stamp = self._stamp(
            ws.personas,
            ws.themes,
            ws.segments,
            ws.review_dir / "decisions.json",
            ws.chunks,
            ws.mentions,
        )
        with self._lock:
            if self._snapshot is not None and self._snapshot.stamp == stamp:
                return self._snapshot
            # A review action changes only decisions.json: the drafts stay parsed.
            input_stamp = self._stamp(ws.personas, ws.themes, ws.segments)
            if self._inputs is None or self._inputs[0] != input_stamp:
                self._inputs = (input_stamp, read_inputs(ws))
            view = view_of(self._inputs[1], load_store(ws))
            chunk_stamp = self._stamp(ws.chunks, ws.personas, ws.themes)
            if self._chunks is None or self._chunks[0] != chunk_stamp:
                chunks = load_chunks(ws.chunks, cited_chunk_ids(view.personas, view.journeys))
                self._chunks = (chunk_stamp, chunks, ticket_subjects_for(ws, chunks))
            data = report_data(view, self._chunks[1], self._chunks[2], mentions=ws.mentions)
            # Who raised each theme, for the support counts on persona fields: read again when
            # the mentions or groups change or the themes' members do (a reviewer's merge), not
            # on every review action.
            members = (
                tuple((t.id, tuple(t.mention_ids)) for t in view.themes.themes)
                if view.themes
                else ()
            )
            people_stamp = (self._stamp(ws.mentions, ws.cohorts), members)
            if self._people is None or self._people[0] != people_stamp:
                self._people = (people_stamp, group_theme_people(ws, view))
            data.theme_people = self._people[1]
            self._snapshot = Snapshot(stamp, view, data)
            return self._snapshot

    def pseudonymizer(self) -> Pseudonymizer:
        stamp = self._stamp(self.workspace.documents)
        if self._pseudonymizer is None or self._pseudonymizer[0] != stamp:
            names = participant_names(self.workspace.documents)
            self._pseudonymizer = (stamp, Pseudonymizer(names))
        return self._pseudonymizer[1]

    # ------------------------------------------------------------------ templates
    def env(self, share: bool) -> Environment:
        if share not in self._envs:
            env = Environment(
                loader=FileSystemLoader(FILES),
                autoescape=select_autoescape(["html", "j2"], default_for_string=True),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                finalize=self._share_finalize if share else None,
            )
            env.filters["pct"] = pct
            env.filters["plural"] = plural
            env.filters["num"] = lambda v: f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"
            self._envs[share] = env
        return self._envs[share]

    def _share_finalize(self, value: Any) -> Any:
        """Share mode: every shown text has participants' names replaced by their ids."""
        if isinstance(value, Raw) or value is None:
            return value
        names = self.pseudonymizer()
        if isinstance(value, Markup):
            # Only text between tags: attributes hold URLs and ids.
            parts = re.split(r"(<[^>]*>)", str(value))
            return Markup("".join(p if p.startswith("<") else names(p) for p in parts))
        if isinstance(value, str):
            return names(value)
        return value

    # ------------------------------------------------------------------ WSGI
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            status, headers, body = self.handle(Request(environ, self))
        except HTTPError as exc:
            status, headers = exc.status, [("Content-Type", "text/plain; charset=utf-8")]
            body = (exc.message + "\n").encode("utf-8")
        except PersonaError as exc:
            status, headers = (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                [("Content-Type", "text/plain; charset=utf-8")],
            )
            body = f"error: {exc}\n".encode()
        except Exception:
            # A bug must not take the server down for the other reviewers: the request gets a
            # plain 500, the terminal gets the traceback to report.
            traceback.print_exc()
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            body = b"internal error: see the terminal running persona serve\n"
        start_response(
            f"{status.value} {status.phrase}",
            [*headers, *HEADERS, ("Content-Length", str(len(body)))],
        )
        return [body]

    def check(self, req: Request) -> None:
        """Refuse foreign Host headers, and cross-site or token-less state changes."""
        host = req.environ.get("HTTP_HOST", "")
        if host not in self.allowed_hosts:
            raise HTTPError(
                HTTPStatus.MISDIRECTED_REQUEST,
                f"refused: Host '{host}' is not this server ({', '.join(sorted(self.allowed_hosts))})",
            )
        if req.method != "POST":
            return
        origin = req.environ.get("HTTP_ORIGIN")
        referer = req.environ.get("HTTP_REFERER")
        allowed = {f"http://{h}" for h in self.allowed_hosts}
        if origin is not None and origin not in allowed:
            raise HTTPError(HTTPStatus.FORBIDDEN, f"refused: request from another site ({origin})")
        if origin is None and referer and not any(referer.startswith(a + "/") for a in allowed):
            raise HTTPError(HTTPStatus.FORBIDDEN, "refused: request from another site (Referer)")
        token = req.form.get("csrf", "")
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise HTTPError(
                HTTPStatus.FORBIDDEN,
                "refused: the form's CSRF token is missing or stale; reload the page",
            )
        if self.share_only:
            raise HTTPError(HTTPStatus.FORBIDDEN, "refused: this server is read-only (--share)")

    def handle(self, req: Request) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        self.check(req)
        path = req.path
        if req.method == "GET" and path.startswith("/static/"):
            return self.static(path.removeprefix("/static/"))
        if req.method not in ("GET", "POST"):
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and POST")
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/", self.library_page),
            ("GET", r"/themes", self.themes_page),
            ("POST", r"/themes", self.theme_action),
            ("GET", r"/evidence", self.evidence_page),
            ("GET", r"/share", self.share_toggle),
            ("GET", r"/p/(?P<slug>[a-z0-9-]+)", self.persona_page),
            ("GET", r"/p/(?P<slug>[a-z0-9-]+)/journey", self.journey_page),
            ("GET", r"/p/(?P<slug>[a-z0-9-]+)/print", self.print_page),
            ("POST", r"/p/(?P<slug>[a-z0-9-]+)", self.decide_action),
            ("POST", r"/p/(?P<slug>[a-z0-9-]+)/mark", self.mark_action),
        ]
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and method == req.method:
                return handler(req, **match.groupdict())
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no page {path}")

    def static(self, name: str) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        if name not in STATIC:
            raise HTTPError(HTTPStatus.NOT_FOUND, f"no file {name}")
        kind, path = STATIC[name]
        return (
            HTTPStatus.OK,
            [("Content-Type", kind), ("Cache-Control", "max-age=300")],
            path.read_bytes(),
        )

    # ------------------------------------------------------------------ rendering
    def render(
        self, req: Request, template: str, status: HTTPStatus = HTTPStatus.OK, **values: Any
    ) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        share = req.share
        snap = values.pop("snap", None) or self.snapshot()
        html = (
            self.env(share)
            .get_template(template)
            .render(
                data=snap.data,
                share=share,
                share_only=self.share_only,
                csrf=Raw(self.token),
                here=Raw(
                    req.path
                    + (
                        f"?{req.environ.get('QUERY_STRING')}"
                        if req.environ.get("QUERY_STRING")
                        else ""
                    )
                ),
                reviewer=req.reviewer,
                root=Raw(str(self.workspace.root)),
                url=lambda *parts, **query: Raw(_url(*parts, **query)),
                stage_titles=STAGE_TITLES,
                emotion_words=EMOTION_WORDS,
                review_marks=REVIEW_MARKS,
                added_in_review=ADDED_IN_REVIEW,
                provenance=who_wrote,
                # A theme's people and tickets, leaving out a source the corpus does not have.
                theme_reach=lambda t: " · ".join(theme_reach(t, snap.data.themes)),
                **values,
            )
        )
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
        return status, [*headers, *req.set_cookies], html.encode("utf-8")

    def redirect(
        self, req: Request, location: str
    ) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        return HTTPStatus.SEE_OTHER, [("Location", location), *req.set_cookies], b""

    def views(self, snap: Snapshot) -> list[PageView]:
        data = snap.data
        out = []
        for i, persona in enumerate(data.personas):
            colour = AVATAR_COLOURS[int(refs_hash(persona.id), 16) % len(AVATAR_COLOURS)]
            view = PageView(
                persona=persona,
                slug=data.slugs[persona.id],
                journey=data.journey(persona),
                cites=WebCites(data, f"p{i + 1}", f"/p/{data.slugs[persona.id]}", persona),
                colour="#be123c" if persona.is_anti_persona else colour,
                initials=_initials(persona.draft.name),
                marks=data.decisions.get(persona.id, {}),
                validation=validation_text(data, persona),
                report=data,
            )
            view.store, view.lineage = snap.view.store, snap.view.lineage
            out.append(view)
        return out

    def find(self, snap: Snapshot, slug: str) -> PageView:
        for view in self.views(snap):
            if view.slug == slug:
                return view
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no persona '{slug}'")

    # ------------------------------------------------------------------ pages
    def library_page(self, req: Request) -> Any:
        snap = self.snapshot()
        data = snap.data
        themes = sorted(data.themes.themes, key=lambda t: (t.rank, t.id)) if data.themes else []
        plotted = themes[:MATRIX_THEMES]
        interviews, tickets, users = data.corpus_basis()
        return self.render(
            req,
            "library.html.j2",
            snap=snap,
            views=self.views(snap),
            themes=themes,
            plotted=plotted,
            matrix=matrix_svg(plotted, data.themes) if plotted else None,
            reach=lambda t: reach(t, data.themes),
            basis=doc_basis(interviews, tickets, users),
            counts={"interviews": interviews, "tickets": tickets, "users": users},
        )

    def persona_page(
        self, req: Request, slug: str, status: HTTPStatus = HTTPStatus.OK, notice: Any = None
    ) -> Any:
        snap = self.snapshot()
        view = self.find(snap, slug)
        return self.render(
            req,
            "persona.html.j2",
            status,
            snap=snap,
            v=view,
            notice=notice,
            review_paths=FIELDS,
        )

    def journey_page(
        self, req: Request, slug: str, status: HTTPStatus = HTTPStatus.OK, notice: Any = None
    ) -> Any:
        snap = self.snapshot()
        view = self.find(snap, slug)
        if view.journey is None:
            raise HTTPError(HTTPStatus.NOT_FOUND, f"{view.persona.draft.name} has no journey map")
        data = snap.data
        view.emotion_svg = emotion_svg(
            view.journey, f"Emotion across {view.first_name}'s journey", data
        )
        view.emotions = stage_emotions(data, view.journey)
        reviewed = snap.view.journey_of(view.persona.id)
        return self.render(
            req,
            "journey.html.j2",
            status,
            snap=snap,
            v=view,
            notice=notice,
            unapplied=reviewed.unapplied if reviewed else (),
        )

    def print_page(self, req: Request, slug: str) -> Any:
        snap = self.snapshot()
        return self.render(req, "print.html.j2", snap=snap, v=self.find(snap, slug))

    def themes_page(
        self, req: Request, status: HTTPStatus = HTTPStatus.OK, notice: Any = None
    ) -> Any:
        snap = self.snapshot()
        data = snap.data
        themes = sorted(data.themes.themes, key=lambda t: (t.rank, t.id)) if data.themes else []
        plotted = themes[:MATRIX_THEMES]
        lineage = snap.view.lineage
        decided: dict[str, Any] = {}
        for stored_id, decision in snap.view.store.themes.items():
            current = refs.follow(stored_id, lineage)
            if current not in decided or decision.rev > decided[current].rev:
                decided[current] = decision
        return self.render(
            req,
            "themes.html.j2",
            status,
            snap=snap,
            themes=themes,
            plotted=plotted,
            matrix=matrix_svg(plotted, data.themes) if plotted else None,
            reach=lambda t: reach(t, data.themes),
            decided=decided,
            merges=snap.view.theme_decisions.merges,
            labels={t.id: t.label for t in themes},
            groups=groups_with_themes(data.themes),
            notice=notice,
        )

    def evidence_page(self, req: Request) -> Any:
        snap = self.snapshot()
        ref = req.query.get("ref", "")
        parsed = refs.parse(ref)
        ev = snap.data.resolve(ref)
        context = None
        if parsed.kind == "chunk" and parsed.key in snap.data.chunks:
            chunk = snap.data.chunks[parsed.key]
            context = chunk_context(chunk, self._documents.get(chunk.document_id))
        theme = snap.data.theme(parsed.key) if parsed.kind == "theme" else None
        template = "evidence_fragment.html.j2" if req.query.get("frag") else "evidence.html.j2"
        return self.render(
            req,
            template,
            snap=snap,
            ref=ref,
            ev=ev,
            context=context,
            theme=theme,
            back=Raw(_safe_back(req.query.get("back", "/"))),
        )

    def share_toggle(self, req: Request) -> Any:
        on = req.query.get("on") == "1"
        req.set_cookies.append(
            (
                "Set-Cookie",
                f"{SHARE_COOKIE}={'1' if on else '0'}; Path=/; SameSite=Strict; HttpOnly",
            )
        )
        return self.redirect(req, _safe_back(req.query.get("back", "/")))

    # ------------------------------------------------------------------ actions
    def _remember_reviewer(self, req: Request) -> str | None:
        name = " ".join(req.form.get("by", "").split())[:80]
        if name:
            req.set_cookies.append(
                (
                    "Set-Cookie",
                    f"{REVIEWER_COOKIE}={quote(name)}; Path=/; SameSite=Strict; HttpOnly",
                )
            )
        return name or None

    def decide_action(self, req: Request, slug: str) -> Any:
        from .review import decide_on

        snap = self.snapshot()
        view = self.find(snap, slug)
        form = req.form
        action = form.get("action", "")
        kinds = {
            "confirm": "confirmed",
            "correct": "corrected",
            "extend": "extended",
            "remove": "removed",
            "reset": "pending",
        }
        if action not in kinds:
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"unknown action '{action}'")
        by = self._remember_reviewer(req)
        persona = view.persona
        on_journey = form.get("address", "").startswith(JOURNEY_PREFIX)
        page = self.journey_page if on_journey else self.persona_page
        back = f"/p/{slug}/journey" if on_journey else f"/p/{slug}"
        try:
            expected = int(form.get("rev", "0"))
            if on_journey:
                from .review import locate_journey

                # Journey positions read 'journey.stages.0…': the draft sits under 'journey'.
                target = locate_journey(snap.view, persona, form.get("address", ""))
                address = target.address
                spec, position = target.spec, target.position
                data = {"journey": view.journey_data}
            else:
                from .review import locate_field

                # An item a reviewer reworded is found by its decision's address.
                target = locate_field(snap.view, persona, form.get("address", ""))
                address, spec, position = target.address, target.spec, target.position
                data = persona.draft.model_dump(mode="json")
        except (ReviewError, ValueError) as exc:
            raise HTTPError(HTTPStatus.BAD_REQUEST, str(exc)) from exc
        text = form.get("text", "") if action == "correct" else form.get("addition", "")
        value: Any = text.strip()
        if spec.kind == "list":
            # A line left as it was keeps its drafted item, evidence and all.
            drafted = {
                (i.get("text") or i.get("title")): i
                for i in (get_path(data, position) or [])
                if isinstance(i, dict)
            }
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            value = [drafted.get(line, line) if action == "correct" else line for line in lines]
        anchor = "r-" + (position or str(address).split("[")[0]).replace(".", "-")
        try:
            decision = decide_on(
                target,
                kinds[action],
                value=value if action == "correct" else None,
                addition=value if action == "extend" else None,
                source="web",
                by=by or self.default_reviewer,
                comment=form.get("comment", ""),
            )
            from .decisions import record

            record(self.workspace, persona, address, decision, expected, snap.view.lineage)
        except ConflictError as exc:
            return page(
                req,
                slug,
                HTTPStatus.CONFLICT,
                {"kind": "conflict", "message": str(exc), "yours": text},
            )
        except ReviewError as exc:
            return page(
                req,
                slug,
                HTTPStatus.BAD_REQUEST,
                {"kind": "error", "message": str(exc), "yours": text},
            )
        return self.redirect(req, f"{back}#{anchor}")

    def mark_action(self, req: Request, slug: str) -> Any:
        from .decisions import mark, now

        snap = self.snapshot()
        view = self.find(snap, slug)
        by = self._remember_reviewer(req) or self.default_reviewer
        mark(self.workspace, view.persona, req.form.get("status") == "reviewed", by=by, at=now())
        return self.redirect(req, f"/p/{slug}")

    def theme_action(self, req: Request) -> Any:
        from .review import decide_theme

        form = req.form
        action = form.get("action", "")
        by = self._remember_reviewer(req) or self.default_reviewer
        try:
            expected = int(form.get("rev", "0"))
            decide_theme(
                self.workspace,
                form.get("theme", ""),
                rename=form.get("label") if action == "rename" else None,
                merge_into=form.get("into") if action == "merge" else None,
                reset=action == "reset",
                by=by,
                comment=form.get("comment", ""),
                expected=expected,
            )
        except ConflictError as exc:
            return self.themes_page(
                req, HTTPStatus.CONFLICT, {"kind": "conflict", "message": str(exc)}
            )
        except (ReviewError, ValueError) as exc:
            return self.themes_page(
                req, HTTPStatus.BAD_REQUEST, {"kind": "error", "message": str(exc)}
            )
        return self.redirect(req, "/themes")


def refs_hash(text: str) -> str:
    """The same 8-hex hash the HTML report picks an avatar colour with."""
    from .ids import content_hash

    return content_hash(text, 8)


def _url(*parts: str, **query: str) -> str:
    path = "/" + "/".join(quote(p, safe="") for p in parts if p)
    query = {k: v for k, v in query.items() if v}
    return path + (f"?{urlencode(query)}" if query else "")


def _safe_back(target: str) -> str:
    """Only this site's own paths: a 'back' link never leads elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


class Request:
    """The parts of a WSGI request the site reads."""

    def __init__(self, environ: dict[str, Any], site: Site) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "/") or "/"
        self.query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self.cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        self.set_cookies: list[tuple[str, str]] = []
        self.form: dict[str, str] = {}
        if self.method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > MAX_BODY:
                raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "form too large")
            body = environ["wsgi.input"].read(length).decode("utf-8", "replace")
            self.form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        self.site = site

    @property
    def share(self) -> bool:
        if self.site.share_only:
            return True
        cookie = self.cookies.get(SHARE_COOKIE)
        return bool(cookie and cookie.value == "1")

    @property
    def reviewer(self) -> str:
        from urllib.parse import unquote

        cookie = self.cookies.get(REVIEWER_COOKIE)
        return unquote(cookie.value) if cookie else self.site.default_reviewer


# --------------------------------------------------------------------------- starting


def check_host(host: str) -> None:
    """Bind only to one address: a wildcard would serve review controls to the whole network."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ServeError(
                f"--host must be an IP address (default 127.0.0.1), not '{host}'"
            ) from None
        return
    if address.is_unspecified:
        raise ServeError(
            f"--host {host} would listen on every network interface; give one address "
            "(default 127.0.0.1)"
        )


def make_site_server(
    workspace: Workspace,
    host: str = "127.0.0.1",
    port: int = 8765,
    share: bool = False,
    reviewer: str | None = None,
) -> tuple[WSGIServer, Site]:
    """Bind the server (port 0: any free port) and the site that answers on it."""
    check_host(host)
    if not workspace.personas.exists():
        raise ServeError(
            f"{workspace.personas}: no personas yet: run `persona run` or `persona draft` first"
        )
    site = Site(workspace, share=share, reviewer=reviewer)
    try:
        server = make_server(host, port, site, server_class=_Threading, handler_class=_QuietHandler)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound = server.server_address[1]
    names = {host, "localhost", "127.0.0.1"} if host in ("127.0.0.1", "localhost") else {host}
    site.allowed_hosts = {f"{name}:{bound}" for name in names}
    return server, site


def serve(
    workspace: Workspace,
    host: str = "127.0.0.1",
    port: int = 8765,
    share: bool = False,
    reviewer: str | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted; `ready` gets the URL once the server listens."""
    server, _ = make_site_server(workspace, host, port, share, reviewer)
    url = f"http://{host}:{server.server_address[1]}/"
    if ready:
        ready(url)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


__all__ = ["ServeError", "Site", "make_site_server", "serve"]
