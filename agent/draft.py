"""Drafting: evidence packs -> grounded personas and journey maps -> personas.json.

One persona (and one journey map) per pack. With an LLM (`openai` or `host`) each draft is a
structured call validated by the grounding validators, so an invented number, quote or id is
re-asked with the validator's message; offline, deterministic templates fill the same models.

Decisions kept here:
- Ids are stable across re-drafts: `persona_id` hashes the segment name and the anti-persona
  flag (never the content), `journey_id` hashes the persona id. Review decisions follow them.
- `generated_at` comes from `clock` (default: SOURCE_DATE_EPOCH when set, else the current UTC
  time), and a persona whose content did not change keeps its previous timestamp, so re-running
  on the same inputs writes byte-identical JSON.
- Partial re-drafts for review: `only` re-drafts the listed persona ids and keeps the others as
  they are in personas.json; `locked` names fields (dotted paths as in review, journey fields
  prefixed 'journey.') whose current values are kept verbatim: the model sees them, the
  validators skip them, and they are written back unchanged after drafting.
- A persona whose call fails is reported in the summary's failures; its previous draft, if any,
  stays in personas.json rather than disappearing.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .config import Settings
from .errors import InputError
from .evidence import EvidencePack, Retriever, build_evidence_packs, default_retriever, journey_id
from .grounding import GroundedJourneyDraft, GroundedPersonaDraft
from .lock import writes_workspace
from .models import (
    CallFailure,
    Claim,
    DocumentInfo,
    JourneyDraft,
    JourneyMap,
    Persona,
    PersonaDraft,
    PersonaPainPoint,
    StepSummary,
)
from .offline_draft import TEMPLATE_VERSION, draft_journey_offline, draft_persona_offline
from .workspace import Workspace, write_json

PERSONA_PROMPT = "draft_persona"
JOURNEY_PROMPT = "draft_journey"
JOURNEY_PREFIX = "journey."
OFFLINE_MODEL = "offline-templates"
# Field groups a reviewer can ask to re-draft; every other field is then locked.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "identity": ("name", "archetype", "summary", "role", "demographics"),
    "goals": ("goals", "motivations", "aha_moment"),
    "behavior": ("behaviors", "channels", "tools", "tech_proficiency"),
    "pains": ("pain_points", "quotes", "needs"),
    "journey": ("journey.stages", "journey.key_findings", "journey.recommendations"),
}
Clock = Callable[[], str]


def default_clock() -> str:
    """SOURCE_DATE_EPOCH (reproducible builds) when set, else now; ISO 8601 UTC to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def locked_for_groups(groups: Collection[str]) -> list[str]:
    """The field paths to lock when only these groups are re-drafted."""
    unknown = set(groups) - set(FIELD_GROUPS)
    if unknown:
        raise ValueError(
            f"unknown field groups {sorted(unknown)}; groups are {sorted(FIELD_GROUPS)}"
        )
    return [p for g, paths in FIELD_GROUPS.items() if g not in groups for p in paths]


# --------------------------------------------------------------------------- locked fields


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _get_path(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def apply_locked(draft: BaseModel, values: Mapping[str, Any]) -> BaseModel:
    """The draft with the locked fields put back exactly; validated without grounding context."""
    if not values:
        return draft
    data = draft.model_dump(mode="json")
    for path, value in values.items():
        _set_path(
            data, path, value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        )
    return type(draft).model_validate(data)


def _split_locked(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    persona = {k: v for k, v in values.items() if not k.startswith(JOURNEY_PREFIX)}
    journey = {
        k[len(JOURNEY_PREFIX) :]: v for k, v in values.items() if k.startswith(JOURNEY_PREFIX)
    }
    return persona, journey


def locked_values(
    paths: Collection[str], persona: Persona | None, journey: JourneyMap | None
) -> dict[str, Any]:
    """Current values of the locked paths (paths with no current value are left to the drafter)."""
    out: dict[str, Any] = {}
    pdata = persona.draft.model_dump(mode="json") if persona else {}
    jdata = journey.draft.model_dump(mode="json") if journey else {}
    for path in paths:
        if path.startswith(JOURNEY_PREFIX):
            value = _get_path(jdata, path[len(JOURNEY_PREFIX) :])
        else:
            value = _get_path(pdata, path)
        if value is not None:
            out[path] = value
    return out


# --------------------------------------------------------------------------- drafting


@dataclass
class Drafts:
    """What one drafting pass produced."""

    personas: dict[str, Persona] = field(default_factory=dict)
    journeys: dict[str, JourneyMap] = field(default_factory=dict)
    failures: list[CallFailure] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)
    model: str = ""


def _info(pack: EvidencePack, mode: str, model: str, prompt_version: str) -> DocumentInfo:
    return DocumentInfo(
        based_on_interviews=pack.corpus.interviews,
        based_on_tickets=pack.corpus.tickets,
        based_on_users=pack.corpus.users,
        model=model,
        prompt_version=prompt_version,
        mode=mode,  # type: ignore[arg-type]
    )


def _persona(pack: EvidencePack, draft: BaseModel, info: DocumentInfo) -> Persona:
    # Stored as the plain contract type: the grounded subclass is a validation device only.
    plain = PersonaDraft.model_validate(draft.model_dump(mode="json"))
    return Persona(
        id=pack.persona_id,
        segment=pack.segment.name,
        is_anti_persona=pack.is_anti_persona,
        draft=plain,
        document_info=info,
    )


def _pains_by_reach(pack: EvidencePack, persona: Persona, locked: Mapping[str, Any]) -> Persona:
    """The persona's pain points, those most of its own people raised first, then by the
    study's rank: reports call the first one its top pain point. No prompt asks the model for
    an order, so code sets it, after the journey prompt has seen the draft as the model wrote
    it (the order never changes a journey prompt); a list a reviewer locked keeps theirs."""
    if "pain_points" in locked:
        return persona
    themes = {t.id: t for t in pack.themes}

    def reach(pain: PersonaPainPoint) -> tuple[int, int, int]:
        theme = themes.get(pain.theme_id)
        return (0, -theme.segment_count, theme.rank) if theme else (1, 0, 0)

    pains = sorted(persona.draft.pain_points, key=reach)
    if pains == persona.draft.pain_points:
        return persona
    draft = persona.draft.model_copy(update={"pain_points": pains})
    return persona.model_copy(update={"draft": draft})


def _journey(pack: EvidencePack, draft: BaseModel, info: DocumentInfo) -> JourneyMap:
    plain = JourneyDraft.model_validate(draft.model_dump(mode="json"))
    return JourneyMap(
        id=journey_id(pack.persona_id),
        persona_id=pack.persona_id,
        draft=plain,
        document_info=info,
        # How the map's columns read the extracted stages, for renderers counting mentions.
        stage_sources={s: list(pack.journey.sources.get(s, [])) for s in pack.journey.stages},
        own_stage_counts={
            t.id: dict(t.segment_journey_stages) for t in pack.themes if t.segment_journey_stages
        },
    )


def draft_offline(packs: list[EvidencePack], locked: Mapping[str, Mapping[str, Any]]) -> Drafts:
    """Template drafts, checked by the same validators as an LLM answer."""
    out = Drafts(model=OFFLINE_MODEL)
    for pack in packs:
        p_locked, j_locked = _split_locked(locked.get(pack.persona_id, {}))
        context = pack.context()
        persona = GroundedPersonaDraft.model_validate(
            draft_persona_offline(pack).model_dump(mode="json"), context=context
        )
        journey = GroundedJourneyDraft.model_validate(
            draft_journey_offline(pack).model_dump(mode="json"), context=context
        )
        info = _info(pack, "offline", OFFLINE_MODEL, TEMPLATE_VERSION)
        drafted = _persona(pack, apply_locked(persona, p_locked), info)
        out.personas[pack.persona_id] = _pains_by_reach(pack, drafted, p_locked)
        out.journeys[pack.persona_id] = _journey(pack, apply_locked(journey, j_locked), info)
    return out


def draft_with_llm(
    settings: Settings,
    workspace: Workspace,
    packs: list[EvidencePack],
    provider: str,
    locked: Mapping[str, Mapping[str, Any]],
) -> Drafts:
    """Persona calls for every pack, then journey calls for the personas that succeeded.

    Raises HostPending (host mode) when answers are still to be written; cached answers mean a
    re-run picks up where it stopped.
    """
    from .llm import LLMRequest, LLMRunner
    from .prompts import load_prompt

    runner = LLMRunner(settings, workspace, provider)
    out = Drafts(model=runner.model)
    tokens: dict[str, int] = {}

    def requests(
        step: str,
        prompt: str,
        model: type[BaseModel],
        extra: Callable[[EvidencePack], dict[str, Any]],
        todo: list[EvidencePack],
        part: int,
    ) -> list[LLMRequest]:
        reqs = []
        for pack in todo:
            values = _split_locked(locked.get(pack.persona_id, {}))[part]
            reqs.append(
                LLMRequest(
                    step=step,
                    prompt=prompt,
                    variables={"pack": pack.context(), "locked": values, **extra(pack)},
                    response_model=model,
                    context=pack.context(locked=list(values)),
                    sources=tuple(
                        e.removeprefix("chunk:")
                        for e in pack.evidence_ids()
                        if e.startswith("chunk:")
                    ),
                )
            )
        return reqs

    def collect(
        results: list[Any], todo: list[EvidencePack], step: str
    ) -> list[tuple[EvidencePack, BaseModel]]:
        done = []
        for pack, result in zip(todo, results, strict=True):
            for key, value in result.usage.items():
                tokens[key] = tokens.get(key, 0) + int(value)
            if result.value is None:
                out.failures.append(
                    CallFailure(
                        request_id=result.request_id,
                        step=step,
                        error=f"{pack.segment.name}: {result.error}",
                        attempts=max(1, result.attempts),
                    )
                )
            else:
                done.append((pack, result.value))
        return done

    persona_reqs = requests(
        "draft_persona", PERSONA_PROMPT, GroundedPersonaDraft, lambda p: {}, packs, 0
    )
    drafted = collect(runner.run(persona_reqs), packs, "draft_persona")
    p_version = load_prompt(PERSONA_PROMPT).version
    for pack, value in drafted:
        p_locked = _split_locked(locked.get(pack.persona_id, {}))[0]
        info = _info(pack, provider, runner.model, f"{PERSONA_PROMPT}@{p_version}")
        out.personas[pack.persona_id] = _persona(pack, apply_locked(value, p_locked), info)

    todo = [pack for pack, _ in drafted]
    journey_reqs = requests(
        "draft_journey",
        JOURNEY_PROMPT,
        GroundedJourneyDraft,
        lambda p: {"persona": out.personas[p.persona_id].draft.model_dump(mode="json")},
        todo,
        1,
    )
    j_version = load_prompt(JOURNEY_PROMPT).version
    for pack, value in collect(runner.run(journey_reqs), todo, "draft_journey"):
        j_locked = _split_locked(locked.get(pack.persona_id, {}))[1]
        info = _info(pack, provider, runner.model, f"{JOURNEY_PROMPT}@{j_version}")
        out.journeys[pack.persona_id] = _journey(pack, apply_locked(value, j_locked), info)
    for pack, _ in drafted:
        p_locked = _split_locked(locked.get(pack.persona_id, {}))[0]
        out.personas[pack.persona_id] = _pains_by_reach(
            pack, out.personas[pack.persona_id], p_locked
        )
    out.tokens = tokens
    return out


# --------------------------------------------------------------------------- inputs


# The drafts' inputs a report must not silently outlive: personas.json records their hashes.
INPUT_FILES = ("segments", "cohorts", "themes")


def input_hashes(workspace: Workspace) -> dict[str, str | None]:
    """Content hash (sha256, 16 hex) of segments.json and themes.json; None when absent."""
    out: dict[str, str | None] = {}
    for name in INPUT_FILES:
        path: Path = getattr(workspace, name)
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None
    return out


def stale_inputs(workspace: Workspace, recorded: object) -> list[str]:
    """The inputs that changed since drafting (none when personas.json recorded no hashes)."""
    if not isinstance(recorded, Mapping):
        return []  # drafted before hashes were recorded: cannot tell
    now = input_hashes(workspace)
    return [name for name in INPUT_FILES if name in recorded and recorded[name] != now[name]]


# --------------------------------------------------------------------------- the step


def _stage_hint(settings: Settings, workspace: Workspace) -> list[str]:
    """For interviews alone drafted on the default funnel: a note when the funnel fits them
    poorly (tickets and a user table are the funnel's own ground)."""
    from .library import load_themes
    from .stages import funnel_hint

    if settings.draft.journey_stages or settings.draft.journey != "funnel":
        return []
    hint = funnel_hint(load_themes(workspace))
    return [hint] if hint else []


def _load_previous(
    workspace: Workspace, notes: list[str]
) -> tuple[dict[str, Persona], dict[str, JourneyMap]]:
    """The drafts personas.json holds; one it cannot read is drafted afresh (said in `notes`:
    review decisions live apart, in decisions.json, and apply to the new drafts)."""
    from .library import load_drafts

    if not workspace.personas.exists():
        return {}, {}
    try:
        _, personas, journeys = load_drafts(workspace)
    except InputError as exc:
        notes.append(f"{exc}; drafting every persona afresh")
        return {}, {}
    return {p.id: p for p in personas}, {j.persona_id: j for j in journeys}


def _stamp(item: Persona | JourneyMap, previous: Persona | JourneyMap | None, now: str) -> Any:
    """Set generated_at: the previous stamp when nothing else changed, else `now`."""
    if previous is not None:
        old = previous.model_copy(
            update={"document_info": previous.document_info.model_copy(update={"generated_at": ""})}
        )
        new = item.model_copy(
            update={"document_info": item.document_info.model_copy(update={"generated_at": ""})}
        )
        if old.model_dump(mode="json") == new.model_dump(mode="json"):
            return previous
    return item.model_copy(
        update={"document_info": item.document_info.model_copy(update={"generated_at": now})}
    )


def count_claims(models: list[BaseModel]) -> tuple[int, int]:
    """(claims, assumptions) across drafts: how much of the output rests on evidence."""
    claims = assumptions = 0

    def walk(value: Any) -> None:
        nonlocal claims, assumptions
        if isinstance(value, Claim):
            claims += 1
            assumptions += value.assumption
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for model in models:
        walk(model)
    return claims, assumptions


@writes_workspace("draft")
def draft_personas(
    settings: Settings,
    workspace: Workspace,
    provider: str | None = None,
    anti_persona: bool | None = None,
    *,
    only: Collection[str] | None = None,
    locked: Mapping[str, Collection[str]] | None = None,
    retriever: Retriever | None = None,
    clock: Clock | None = None,
) -> StepSummary:
    """Draft a persona and a journey map per primary segment (and the anti-persona) into personas.json.

    Review decisions (review/decisions.json) are kept: every field a human decided is locked for
    the drafter at its reviewed value; other decisions (list items) are applied when reading, so
    personas.json holds drafts and only drafting writes it. `only`: persona ids to re-draft
    (others are kept from personas.json); `locked`: persona id -> more field paths to keep. The
    summary counts `fields_changed` (since the previous draft) and `human_fields_kept`.
    Offline output is byte-stable for the same inputs.
    """
    from .decisions import apply_reviews, lineage_of, load_store, locked_fields, removed_themes
    from .review import count_diff, diff_personas

    began = time.perf_counter()
    chosen = provider if provider not in (None, "auto") else settings.llm.resolved_provider()
    cohort_failures: list[CallFailure] = []
    cohort_notes: list[str] = []
    if not workspace.segments.exists():
        # No user table: who the personas stand for comes from the interviews themselves.
        from .cohorts import build_cohorts, cohort_math

        cohorts, cohort_failures, pending = build_cohorts(settings, workspace, chosen)
        if pending is not None:
            raise pending
        cohort_notes.append(cohort_math(cohorts))
    elif workspace.cohorts.exists():
        workspace.cohorts.unlink()  # a user table was scored since: its segments are the cohorts
    packs, notes = build_evidence_packs(
        settings, workspace, anti_persona, retriever or default_retriever(settings, workspace)
    )
    notes = cohort_notes + notes
    if not workspace.segments.exists():
        notes.extend(_stage_hint(settings, workspace))
    old_personas, old_journeys = _load_previous(workspace, notes)
    store = load_store(workspace)
    # A pain point a reviewer removed stays out of the whole draft: its theme leaves the pack,
    # so no need, journey stage or finding is written from it either.
    removed = removed_themes(store, lineage_of(workspace))
    packs = [
        p.model_copy(update={"themes": [t for t in p.themes if t.id not in gone]})
        if (gone := removed.get((p.segment.name, p.is_anti_persona)))
        else p
        for p in packs
    ]
    # The model sees human-decided values as fixed and its validators skip them; the values
    # come from the reviewed view, as personas.json holds drafts only.
    human = locked_fields(old_personas.values(), store)
    lineage = lineage_of(workspace)
    decided = {p.id: p for p in apply_reviews(old_personas.values(), store, lineage)}
    todo = [
        p for p in packs if only is None or p.persona_id in only or p.persona_id not in old_personas
    ]
    lock_values = {
        p.persona_id: locked_values(
            sorted(set((locked or {}).get(p.persona_id, ())) | set(human.get(p.persona_id, {}))),
            decided.get(p.persona_id),
            old_journeys.get(p.persona_id),
        )
        for p in todo
    }
    if chosen == "offline":
        drafts = draft_offline(todo, lock_values)
    else:
        drafts = draft_with_llm(settings, workspace, todo, chosen, lock_values)

    fresh: list[Persona] = []
    for pack in packs:
        pid = pack.persona_id
        if pid in drafts.personas:
            fresh.append(drafts.personas[pid])
        elif pid in old_personas:
            fresh.append(old_personas[pid])
            if pack in todo:
                notes.append(f"{pack.segment.name}: drafting failed, the previous draft is kept")
    now = (clock or default_clock)()
    personas = [_stamp(p, old_personas.get(p.id), now) for p in fresh]
    journeys: list[JourneyMap] = []
    for persona in personas:
        journey = drafts.journeys.get(persona.id)
        if journey is not None:
            journeys.append(_stamp(journey, old_journeys.get(persona.id), now))
        elif persona.id in old_journeys:
            journeys.append(old_journeys[persona.id])
    write_json(
        workspace.personas,
        {
            "inputs": input_hashes(workspace),
            "personas": [p.model_dump(mode="json") for p in personas],
            "journeys": [j.model_dump(mode="json") for j in journeys],
        },
    )
    claims, assumptions = count_claims([*(p.draft for p in personas), *(j.draft for j in journeys)])
    counts = {
        "personas": len(personas),
        "journeys": len(journeys),
        "drafted": len(drafts.personas),
        "anti_personas": sum(p.is_anti_persona for p in personas),
        "claims": claims,
        "assumptions": assumptions,
        "failed": len(drafts.failures) + len(cohort_failures),
        "human_fields_kept": sum(len(marks) for marks in human.values()),
    }
    if old_personas:
        # What a reader sees change: reviewed view before and after.
        changes = diff_personas(list(decided.values()), apply_reviews(personas, store, lineage))
        counts["fields_changed"] = len(changes)
        if changes:
            # Counts only: the words (old ones maybe withdrawn since) are in personas.json and
            # `persona review diff`, not in a note that last_run.json keeps.
            # One note per persona: a note is one line (the terminal shows a line break in one
            # escaped, as it does any control character from the inputs).
            notes.extend(
                f"changes since the previous draft: {line}"
                for line in count_diff(changes).splitlines()
            )
    return StepSummary(
        step="draft",
        ok=not drafts.failures and not cohort_failures,
        mode=chosen,  # type: ignore[arg-type]
        counts=counts,
        tokens=drafts.tokens,
        seconds=round(time.perf_counter() - began, 3),
        failures=[*cohort_failures, *drafts.failures],
        outputs={"personas": str(workspace.personas)},
        notes=notes,
    )
