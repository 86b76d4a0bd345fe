"""Renderers: Markdown persona documents and journey maps, an HTML library, validated JSON."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .. import refs
from ..config import Settings
from ..errors import ConfigError, OutputError
from ..lock import writes_workspace
from ..models import Persona, StepSummary, ThemeReport
from ..segment_rules import slugify
from ..workspace import Workspace, dump_json, remove_stale_temps, write_text_atomic
from .context import ReportData, load_report_data
from .html import render_html
from .jsonout import render_json
from .markdown import render_journey_md, render_persona_md
from .summary import build_summary, render_summary_md

FORMATS = ("md", "html", "json")
# What this renderer wrote into a folder, so a later render can remove the files it no longer
# produces (a persona that is gone) without ever touching a file it did not write.
MANIFEST = ".persona-report.json"
# Every name render_files can produce; a manifest entry outside this set is never acted on.
REPORT_NAME = re.compile(
    r"^(?:summary\.md|index\.html|report\.json|(?:persona|journey)-[a-z0-9-]+\.md)$"
)
SUFFIX_FORMAT = {".md": "md", ".html": "html", ".json": "json"}

__all__ = [
    "FORMATS",
    "ReportData",
    "load_report_data",
    "match_product",
    "only_product",
    "render_files",
    "render_report",
]


def render_files(data: ReportData, formats: Sequence[str] = FORMATS) -> dict[str, str]:
    """File name -> text for every requested format; nothing is written."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(
            f"unknown report format {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    summary = build_summary(data)
    files: dict[str, str] = {}
    if "md" in formats:
        files["summary.md"] = render_summary_md(data, summary)
        for persona in data.personas:
            slug = data.slugs[persona.id]
            files[f"persona-{slug}.md"] = render_persona_md(data, persona)
            journey = data.journey(persona)
            if journey:
                files[f"journey-{slug}.md"] = render_journey_md(data, persona, journey)
    if "html" in formats:
        files["index.html"] = render_html(data, summary)
    if "json" in formats:
        files["report.json"], _ = render_json(data, summary)
    return files


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_manifest(folder: Path) -> dict[str, str]:
    """File name -> sha256 of what was written; unreadable or foreign entries are ignored."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {
        name: digest
        for name, digest in files.items()
        if isinstance(name, str) and REPORT_NAME.match(name) and isinstance(digest, str)
    }


def _write_manifest(folder: Path, files: dict[str, str]) -> None:
    note = "Files `persona report` wrote here (sha256); it removes those it no longer produces."
    write_text_atomic(
        folder / MANIFEST, dump_json({"about": note, "files": dict(sorted(files.items()))})
    )


def _prepare(target: Path) -> None:
    """The output folder exists and is a folder, or one clear error says why not."""
    if target.exists() and not target.is_dir():
        raise OutputError(
            f"{target}: is a file; the report needs a folder there (give --out a folder)"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{target}: cannot create the report folder ({exc.strerror or exc})"
        ) from exc


def _remove_stale(
    target: Path, earlier: dict[str, str], written: dict[str, str], formats: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Remove files an earlier render wrote that this one no longer produces; (removed, kept)."""
    removed: list[str] = []
    kept: list[str] = []
    for name, digest in sorted(earlier.items()):
        # Only formats rendered now: `--format html` must not remove the Markdown of a full run.
        if name in written or SUFFIX_FORMAT.get(Path(name).suffix) not in formats:
            continue
        path = target / name
        try:
            current = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        except OSError:
            current = None
        if current is None:
            continue
        if hashlib.sha256(current).hexdigest() != digest:
            kept.append(name)  # edited since it was written: someone's work now, not ours
            continue
        path.unlink(missing_ok=True)
        removed.append(name)
    return removed, kept


def match_product(products: Iterable[str | None], name: str) -> str:
    """The product `name` means, matched exactly or else case-insensitively; an unknown or
    ambiguous name is refused with the list of products."""
    known = sorted({p for p in products if p})
    if name in known:
        return name
    folded = [p for p in known if p.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    listed = ", ".join(known) or "none"
    if folded:
        raise ConfigError(
            f"product {name!r} matches several products but none exactly (products: {listed})"
        )
    raise ConfigError(f"no product {name!r} among the themes (products: {listed})")


def persona_products(data: ReportData, persona: Persona) -> set[str]:
    """The products a persona speaks for: its cohort's product (cohorts.json), or else the
    products of the themes it and its journey cite."""
    for cohort in data.cohorts.cohorts if data.cohorts else ():
        if cohort.name == persona.segment and cohort.product:
            return {cohort.product}
    cited = [persona.model_dump(mode="json")]
    journey = data.journey(persona)
    if journey is not None:
        cited.append(journey.model_dump(mode="json"))
    found = {t.product for key in refs.ids_in(cited, "theme") if (t := data.theme(key))}
    return {p for p in found if p}


def only_product(data: ReportData, product: str) -> ReportData:
    """The report data of one product: its themes ranked within it, its totals, and only the
    personas (and journeys) that speak for it."""
    themes = data.themes
    if themes is None:
        raise ConfigError(f"no product {product!r} among the themes (products: none)")
    product = match_product((t.product for t in themes.themes), product)
    mine = [
        t.model_copy(update={"rank": t.product_rank or t.rank})
        for t in themes.themes
        if t.product == product
    ]
    mine.sort(key=lambda t: (t.rank, t.id))
    groups = [g for g in themes.groups if g.product == product]
    update: dict[str, object] = {
        "themes": mine,
        "groups": [g.model_copy(update={"rank": r}) for r, g in enumerate(groups, start=1)],
    }
    totals = themes.product_totals.get(product)
    if totals is not None:
        # Shares of a product's themes are of its own tickets and participants.
        update |= {
            "total_participants": totals.participants,
            "total_tickets": totals.tickets,
            "product_totals": {product: totals},
        }
    personas = [p for p in data.personas if product in persona_products(data, p)]
    if totals is not None:
        # A persona page of this report rests on the product's tickets, as its summary does.
        personas = [
            p.model_copy(
                update={
                    "document_info": p.document_info.model_copy(
                        update={
                            "based_on_tickets": min(
                                p.document_info.based_on_tickets, totals.tickets
                            ),
                            "based_on_interviews": min(
                                p.document_info.based_on_interviews, totals.participants
                            ),
                        }
                    )
                }
            )
            for p in personas
        ]
    kept = {p.id for p in personas}
    return dataclasses.replace(
        data,
        personas=personas,
        journeys={pid: j for pid, j in data.journeys.items() if pid in kept},
        themes=themes.model_copy(update=update),
        slugs={pid: slug for pid, slug in data.slugs.items() if pid in kept},
        product=product,
    )


def product_of(workspace: Workspace, name: str) -> str:
    """The product `name` means among the workspace's themes (see match_product)."""
    if not workspace.themes.exists():
        raise ConfigError(f"no product {name!r}: {workspace.themes} does not exist yet")
    report = ThemeReport.model_validate_json(workspace.themes.read_text(encoding="utf-8"))
    return match_product((t.product for t in report.themes), name)


@writes_workspace("report")
def render_report(
    settings: Settings,
    workspace: Workspace,
    out_dir: Path | None = None,
    formats: Sequence[str] = FORMATS,
    product: str | None = None,
) -> StepSummary:
    """Render the workspace's personas into out_dir (default: the workspace's reports folder).

    `product`: only that product's themes (ranked within it), into reports/product-<slug>/
    unless out_dir is given.
    """
    from ..rerun import forget, kept, record

    started = time.perf_counter()
    default = workspace.reports_dir
    if product is not None:
        # `--product fittrack` is FitTrack: one folder and one step per product, however spelt.
        product = product_of(workspace, product)
        default = workspace.reports_dir / f"product-{slugify(product)}"
    target = Path(out_dir) if out_dir is not None else default
    inputs = _inputs(workspace, target, formats, product)
    unchanged = kept(workspace, _step(product), inputs)
    if unchanged is not None:
        # The files are this render's own, byte for byte; only a killed write's leftovers go.
        temps = remove_stale_temps(target)
        if temps:
            unchanged.notes.append(f"removed {len(temps)} temp file(s) an interrupted write left")
        unchanged.seconds = round(time.perf_counter() - started, 3)
        return unchanged
    forget(workspace, _step(product))
    data = load_report_data(workspace)
    if product is not None:
        data = only_product(data, product)
    files = render_files(data, formats)
    _prepare(target)
    notes = []
    try:
        temps = remove_stale_temps(target)
        earlier = _read_manifest(target)
        written = {name: _digest(text) for name, text in files.items()}
        # Recorded before writing, so a file from a render killed half-way is still known as ours.
        _write_manifest(target, {**earlier, **written})
        for name, text in sorted(files.items()):
            write_text_atomic(target / name, text)
        removed, kept = _remove_stale(target, earlier, written, formats)
        # Entries of formats not rendered now stay ours while their files are there.
        others = {
            name: digest
            for name, digest in earlier.items()
            if name not in written
            and name not in removed
            and name not in kept
            and (target / name).is_file()
        }
        _write_manifest(target, {**others, **written})
    except OSError as exc:
        raise OutputError(f"{target}: cannot write the report ({exc.strerror or exc})") from exc
    if removed:
        notes.append(
            f"removed {len(removed)} report file(s) an earlier persona set left: {', '.join(removed)}"
        )
    if kept:
        notes.append(
            f"kept {', '.join(kept)}: no longer produced, but edited since it was written (delete it if unwanted)"
        )
    if temps:
        notes.append(f"removed {len(temps)} temp file(s) an interrupted write left")
    # What this render cleaned up is said once; the rest is true of the files as long as they last.
    once, notes = notes, []
    modes = {p.document_info.mode for p in data.personas}
    if data.stale:
        # Still rendered (a reader may want the old drafts), but never silently.
        notes.append("out of date: " + data.stale_note)
    if data.offline:
        notes.append("offline drafts: written without a language model, labelled as such")
    if not data.personas:
        notes.append("no personas in the workspace: the report is empty")
    outputs = {name: str(target / name) for name in sorted(files)}
    summary = StepSummary(
        step=STEP,
        mode=modes.pop() if len(modes) == 1 else None,
        counts={
            "personas": len(data.personas),
            "journeys": sum(1 for p in data.personas if data.journey(p)),
            "files": len(files),
            "reviewed": sum(1 for p in data.personas if p.document_info.status == "reviewed"),
            "stale_inputs": len(data.stale),
        },
        seconds=round(time.perf_counter() - started, 3),
        outputs=outputs,
        notes=notes,
    )
    written_paths = [target / name for name in sorted(files)] + [target / MANIFEST]
    record(workspace, _step(product), inputs, written_paths, summary)
    summary.notes = once + notes
    return summary


STEP = "report"


def _step(product: str | None) -> str:
    """Each product's report is its own step: rendering one never discards another's state."""
    return STEP if product is None else f"{STEP}:{product}"


def _inputs(
    workspace: Workspace, target: Path, formats: Sequence[str], product: str | None = None
) -> str:
    """Fingerprint of what a render reads: drafts, themes, segments, cohorts, extraction state,
    review decisions, the chunks and documents it quotes, and where, for which product and in
    which formats it writes."""
    from ..decisions import store_path
    from ..rerun import fingerprint

    files = [
        workspace.personas,
        workspace.themes,
        workspace.segments,
        workspace.cohorts,
        workspace.extract_state,
        store_path(workspace),
        workspace.chunks,
        workspace.documents,
    ]
    where = {
        "formats": sorted(set(formats)),
        "target": str(target.absolute()),
        "product": product,
    }
    return fingerprint(workspace, files, where)
