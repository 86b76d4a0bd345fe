"""Cohorts: who each persona stands for, from one source per basis.

- `segments`: a user table was scored; each primary segment is a cohort (agent/segment.py).
- `metadata`: the documents carry a `segment` / `persona` field (front matter or roster).
- `interviews`: no user table, no such field, and at least MIN_PARTICIPANTS interview
  participants: they are grouped by what they do, need and raise. Code proposes the groups
  (deterministic: each participant's theme profile, the mean vector of their own words, their
  roster attributes and tools, clustered with average linkage, the number of groups chosen by
  silhouette between 2 and MAX_GROUPS); a model, when there is one, refines them the way a
  researcher would, and validators hold it to the evidence: every participant in exactly one
  group, every defining trait cited with the theme or chunk ids of that group's own members.
  Sizes and shares are counted by code.
- `everyone`: fewer participants than that (a group of one or two people is a person, not a
  persona): one cohort, and a note saying why.

cohorts.json holds the result for every basis but `segments` (segments.json is that source).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .config import Settings
from .errors import HostPending, InputError
from .evidence import themed_mentions
from .host import register_response_model
from .model_calls import ModelCalls
from .models import (
    QUOTABLE_ROLES,
    CallFailure,
    Cohort,
    CohortReport,
    CohortTrait,
    LLMMode,
    ThemeReport,
)
from .segment_rules import slugify
from .workspace import Workspace, iter_rows, read_json, write_json

STEP = "group_participants"
PROMPT = "group_participants"
MIN_PARTICIPANTS = 4
MAX_GROUPS = 4
# The share of a group that must raise a theme for the group to be named after it.
NAME_SHARE = 0.5
ALL_PARTICIPANTS = "All participants"
METADATA_SEGMENT_KEYS = ("segment", "persona", "user_segment")
# How much each kind of evidence weighs in the proposal's distance between two participants:
# what they raise and what they say about their work first, then who they are and what they use.
WEIGHTS = {"themes": 1.0, "voice": 1.0, "attributes": 0.7, "tools": 0.5}
# Words in a metadata field's name that mark it as identifying a person, a file or a moment
# rather than describing the participant ("interview_date", "file", "participant_id").
IDENTITY_WORDS = frozenset(
    [
        "id",
        "name",
        "email",
        "title",
        "date",
        "time",
        "file",
        "source",
        "path",
        "url",
        "author",
        "interviewer",
        "duration",
        "recorded",
        "created",
        "updated",
        "participant",
        "user",
    ]
)
# Fields whose values name what a person is: an offline group is named by its members' values.
ROLE_FIELDS = ("role", "job", "job_title", "occupation", "position", "function", "persona")
QUOTES_PER_PARTICIPANT = 3
GOALS_PER_PARTICIPANT = 3
THEMES_PER_PARTICIPANT = 8


# --------------------------------------------------------------------------- reading


def metadata_segment(row: Mapping[str, Any]) -> str:
    """The value of a document's `segment` / `persona` field ('' when it has none)."""
    meta = row.get("metadata") or {}
    lowered = {str(k).lower(): v for k, v in meta.items()}
    for key in METADATA_SEGMENT_KEYS:
        if lowered.get(key) not in (None, ""):
            return str(lowered[key])
    return ""


@dataclass
class Profile:
    """What one interview participant does, needs and raises, as the evidence shows it."""

    participant: str
    themes: dict[str, float] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    tools: set[str] = field(default_factory=set)
    goals: list[tuple[str, str]] = field(default_factory=list)
    quotes: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    vector: np.ndarray | None = None

    def evidence(self) -> set[str]:
        """Ids a trait about this participant may cite."""
        ids = {f"theme:{t}" for t in self.themes}
        ids |= {f"chunk:{c}" for c in self.chunks}
        return ids


def participant_profiles(
    workspace: Workspace, themes: ThemeReport | None, vectors: Mapping[str, np.ndarray]
) -> dict[str, Profile]:
    """Profiles of every interview participant with words of their own, by participant id."""
    profiles: dict[str, Profile] = {}
    for row in iter_rows(workspace.chunks):
        pid = row.get("participant_id")
        if row.get("kind") != "interview" or row.get("role") not in QUOTABLE_ROLES or not pid:
            continue
        prof = profiles.setdefault(pid, Profile(pid))
        prof.chunks.append(row["id"])
        for key, value in sorted((row.get("metadata") or {}).items()):
            name = str(key).lower()
            text = str(value).strip() if value not in (None, "") else ""
            words = set(re.split(r"[^a-z0-9]+", name))
            if not words & IDENTITY_WORDS and text and len(text) <= 60:
                prof.attributes[name] = text
    for theme, row in themed_mentions(themes, workspace.mentions) if themes else ():
        prof = profiles.get(row.get("participant_id") or "")
        if prof is not None:
            prof.themes[theme] = prof.themes.get(theme, 0.0) + float(row.get("severity") or 1)
    for row in iter_rows(workspace.observations):
        prof = profiles.get(row.get("participant_id") or "")
        if prof is None:
            continue
        quote = (row.get("quotes") or [{}])[0]
        if row.get("kind") == "tool":
            prof.tools.add(str(row.get("text", "")).split(":", 1)[0].strip().lower())
        elif row.get("kind") == "goal" and len(prof.goals) < GOALS_PER_PARTICIPANT:
            prof.goals.append((quote.get("chunk_id", row["chunk_id"]), quote.get("text", "")))
        if len(prof.quotes) < QUOTES_PER_PARTICIPANT and row.get("kind") in ("goal", "workaround"):
            prof.quotes.append((quote.get("chunk_id", row["chunk_id"]), quote.get("text", "")))
    for prof in profiles.values():
        mine = [vectors[c] for c in prof.chunks if c in vectors]
        if mine:
            mean = np.mean(np.stack(mine), axis=0)
            prof.vector = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return dict(sorted(profiles.items()))


def chunk_vectors(settings: Settings, workspace: Workspace) -> dict[str, np.ndarray]:
    """Every interview chunk's stored vector (none when the store cannot be opened)."""
    ids = [
        row["id"]
        for row in iter_rows(workspace.chunks)
        if row.get("kind") == "interview" and row.get("role") in QUOTABLE_ROLES
    ]
    if not ids:
        return {}
    try:
        from .store import open_store

        return open_store(settings, workspace).get_embeddings("chunks", ids)
    except Exception:  # the voice is one signal of four: group without it rather than fail
        return {}


# --------------------------------------------------------------------------- the proposal


def _features(profiles: Sequence[Profile]) -> np.ndarray:
    """One row per participant: weighted, unit-length blocks of each kind of evidence."""
    blocks: list[tuple[float, np.ndarray]] = []
    themes = sorted({t for p in profiles for t in p.themes})
    if themes:
        blocks.append(
            (
                WEIGHTS["themes"],
                np.array([[p.themes.get(t, 0.0) for t in themes] for p in profiles]),
            )
        )
    if all(p.vector is not None for p in profiles):
        blocks.append((WEIGHTS["voice"], np.stack([p.vector for p in profiles])))  # type: ignore[misc]
    values = sorted({(k, v) for p in profiles for k, v in p.attributes.items()})
    # A field every participant shares the same value of, or each a different one, tells no
    # group apart: only values some (not all, not one) participants share are used.
    counts = Counter(kv for p in profiles for kv in p.attributes.items())
    useful = [kv for kv in values if 1 < counts[kv] < len(profiles)]
    if useful:
        blocks.append(
            (
                WEIGHTS["attributes"],
                np.array([[float(p.attributes.get(k) == v) for k, v in useful] for p in profiles]),
            )
        )
    tools = sorted({t for p in profiles for t in p.tools})
    if tools:
        blocks.append(
            (WEIGHTS["tools"], np.array([[float(t in p.tools) for t in tools] for p in profiles]))
        )
    if not blocks:
        return np.eye(len(profiles), dtype=np.float64)
    parts = []
    for weight, block in blocks:
        block = np.asarray(block, dtype=np.float64)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        parts.append(weight * block / np.maximum(norms, 1e-12))
    return np.hstack(parts)


def propose_groups(profiles: Sequence[Profile], max_groups: int = MAX_GROUPS) -> list[list[str]]:
    """2..max_groups groups of participants (ids sorted), by silhouette; deterministic."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform
    from sklearn.metrics import silhouette_score

    n = len(profiles)
    ids = [p.participant for p in profiles]
    if n < MIN_PARTICIPANTS:
        return [sorted(ids)]
    features = _features(profiles)
    distances = np.round(np.nan_to_num(pdist(features, metric="cosine"), nan=1.0), 6)
    tree = linkage(distances, method="average")
    square = squareform(distances)
    best: tuple[float, int, list[int]] | None = None
    for k in range(2, min(max_groups, n // 2) + 1):
        labels = _without_singletons(fcluster(tree, t=k, criterion="maxclust").tolist(), square)
        if len(set(labels)) < 2:
            continue
        score = round(float(silhouette_score(square, labels, metric="precomputed")), 6)
        # Ties go to fewer groups: a persona more is a claim more to defend.
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        return [sorted(ids)]
    groups: dict[int, list[str]] = defaultdict(list)
    for pid, label in zip(ids, best[2], strict=True):
        groups[label].append(pid)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def _without_singletons(labels: list[int], square: np.ndarray) -> list[int]:
    """Labels with each one-person group joined to the group nearest that person (mean distance)."""
    labels = list(labels)
    while True:
        sizes = Counter(labels)
        lonely = sorted(i for i, label in enumerate(labels) if sizes[label] == 1)
        if not lonely or len(sizes) <= 1:
            return labels
        i = lonely[0]
        others = sorted({label for label in labels if label != labels[i]})
        nearest = min(
            others,
            key=lambda g: (
                float(np.mean([square[i, j] for j, x in enumerate(labels) if x == g])),
                g,
            ),
        )
        labels[i] = nearest


# --------------------------------------------------------------------------- offline names


@dataclass
class Named:
    name: str
    description: str
    traits: list[CohortTrait]
    named_by: LLMMode = "offline"


def describe_group(
    members: Sequence[str], profiles: Mapping[str, Profile], themes: ThemeReport | None
) -> Named:
    """A name and traits from what sets the group apart: a shared attribute, then the theme its
    members raise far more than the others, then a tool."""
    inside = [profiles[m] for m in members]
    outside = [p for pid, p in profiles.items() if pid not in members]
    labels = {t.id: t.label for t in themes.themes} if themes else {}
    traits: list[CohortTrait] = []
    name = ""

    def share(group: Sequence[Profile], test: Any) -> float:
        return sum(1 for p in group if test(p)) / len(group) if group else 0.0

    attribute = None
    for key, value in sorted({kv for p in inside for kv in p.attributes.items()}):
        mine = share(inside, lambda p, k=key, v=value: p.attributes.get(k) == v)
        theirs = share(outside, lambda p, k=key, v=value: p.attributes.get(k) == v)
        if mine >= 0.6 and mine - theirs >= 0.4:
            gap = round(mine - theirs, 6)
            if attribute is None or (gap, key) > (attribute[0], attribute[1]):
                attribute = (gap, key, value)
    if attribute is not None:
        _, key, value = attribute
        if key not in ROLE_FIELDS:
            name = f"{_human(value)[:1].upper()}{_human(value)[1:]} ({key.replace('_', ' ')})"
        chunk = next(iter(inside[0].chunks), "")
        holders = [p.participant for p in inside if p.attributes.get(key) == value]
        traits.append(
            CohortTrait(
                text=f"{key.replace('_', ' ').capitalize()}: {value} ({', '.join(holders)})",
                evidence=[f"chunk:{chunk}"] if chunk else [],
            )
        )
    gaps = []
    for theme in sorted({t for p in inside for t in p.themes}):
        mine = share(inside, lambda p, t=theme: t in p.themes)
        theirs = share(outside, lambda p, t=theme: t in p.themes)
        gaps.append((round(mine - theirs, 6), mine, theme))
    gaps.sort(key=lambda g: (-g[0], -g[1], g[2]))

    def raised(theme: str) -> CohortTrait:
        holders = [p.participant for p in inside if theme in p.themes]
        return CohortTrait(
            text=f"Raise '{labels[theme]}' ({len(holders)} of {len(inside)}: {', '.join(holders)})",
            evidence=[f"theme:{theme}"],
        )

    for gap, _, theme in gaps[:2]:
        if gap > 0 and theme in labels:
            traits.append(raised(theme))

    # A name says what most of the group does: a theme 3 of 7 raise is a trait, not a name. The
    # most distinctive theme that at least half the group raises names it.
    roster_roles = any(k in ROLE_FIELDS for p in inside for k in p.attributes)
    namers = [t for gap, mine, t in gaps if gap > 0 and mine >= NAME_SHARE and t in labels]
    if not name and not roster_roles and namers:
        theme = namers[0]
        name = f"Participants who raise '{labels[theme]}'"
        if not any(f"theme:{theme}" in t.evidence for t in traits):
            traits.append(raised(theme))  # the trait it is named after, shown with the others
    for tool in sorted({t for p in inside for t in p.tools}):
        mine = share(inside, lambda p, t=tool: t in p.tools)
        theirs = share(outside, lambda p, t=tool: t in p.tools)
        if mine >= 0.6 and mine - theirs >= 0.4:
            traits.append(CohortTrait(text=f"Use {tool}", evidence=[]))
            name = name or f"Participants who use {tool}"
            break
    roles = Counter(
        _human(p.attributes[k]) for p in inside for k in ROLE_FIELDS if k in p.attributes
    )
    if roles:
        # What the members are, most common first: the name a researcher would give a group
        # before anyone reads its evidence ("Controllers", "Finance admins and bookkeepers").
        top = [r for r, _ in sorted(roles.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
        named = [_plural(r) for r in top]
        joined = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        name = joined[:1].upper() + joined[1:]
    name = name or f"Participants {', '.join(members)}"
    description = (
        f"{len(members)} participants ({', '.join(members)}) grouped by the themes they raise, "
        "what they say about their work, their roster attributes and their tools."
    )
    return Named(name, description, [t for t in traits if t.evidence] or traits)


def _human(value: str) -> str:
    return " ".join(value.replace("_", " ").replace("-", " ").split())


def _plural(noun: str) -> str:
    """'controller' -> 'controllers', 'finance admin' -> 'finance admins' (roles only)."""
    return noun if noun.endswith("s") else noun + "s"


# --------------------------------------------------------------------------- the model's turn


class GroupTrait(BaseModel):
    """One thing that sets the group apart, with the evidence ids that show it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What sets this group apart, in one short sentence")
    evidence: list[str] = Field(
        min_length=1,
        description="Ids from the members' own evidence that show it: 'theme:<id>' or 'chunk:<id>'",
    )


class ParticipantGroup(BaseModel):
    """One persona-to-be: a group of participants who do, need and raise similar things."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="2-8 words naming who they are, e.g. 'Regulated-industry model validators'"
    )
    description: str = Field(description="One sentence on what they do and need")
    members: list[str] = Field(min_length=1, description="Participant ids in this group")
    traits: list[GroupTrait] = Field(
        min_length=1, max_length=4, description="1-4 defining traits, each cited"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split()).strip(" .")
        if not 2 <= len(value.split()) <= 8:
            raise ValueError(f"name {value!r}: write 2-8 words")
        return value


@register_response_model(name="group_participants")
class ParticipantGrouping(BaseModel):
    """The participants grouped into personas: every participant in exactly one group."""

    model_config = ConfigDict(extra="forbid")

    groups: list[ParticipantGroup] = Field(min_length=1, max_length=MAX_GROUPS)

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> ParticipantGrouping:
        context = info.context or {}
        evidence: Mapping[str, Sequence[str]] | None = context.get("evidence")
        if evidence is None:
            return self
        problems = grouping_problems(self, evidence, int(context.get("min_groups", 1)))
        if problems:
            raise ValueError("; ".join(problems[:6]))
        return self


def grouping_problems(
    answer: ParticipantGrouping, evidence: Mapping[str, Sequence[str]], min_groups: int
) -> list[str]:
    """Why a grouping is not a grounded partition of the participants (empty when it is)."""
    problems: list[str] = []
    seen: Counter[str] = Counter(m for g in answer.groups for m in g.members)
    unknown = sorted(m for m in seen if m not in evidence)
    if unknown:
        problems.append(
            f"unknown participant id(s) {', '.join(unknown)}; use: {', '.join(evidence)}"
        )
    twice = sorted(m for m, n in seen.items() if n > 1)
    if twice:
        problems.append(f"participant(s) {', '.join(twice)} in more than one group; put each once")
    missing = [p for p in evidence if not seen[p]]
    if missing:
        problems.append(
            f"participant(s) {', '.join(missing)} in no group; every one belongs to one"
        )
    if len(answer.groups) < min_groups:
        problems.append(
            f"{len(answer.groups)} group(s): make {min_groups}-{MAX_GROUPS} groups "
            "(people who differ in what they do, need or raise)"
        )
    names = Counter(g.name.lower() for g in answer.groups)
    if any(n > 1 for n in names.values()):
        problems.append("two groups have the same name; name each for what sets it apart")
    for n, group in enumerate(answer.groups, start=1):
        if len(group.members) < 2 and len(evidence) >= MIN_PARTICIPANTS:
            problems.append(
                f"group {n} ({group.name!r}) has one member: a persona stands for several "
                "people; join them to the group they are closest to"
            )
        allowed = {ref for m in group.members for ref in evidence.get(m, ())}
        for t, trait in enumerate(group.traits, start=1):
            stray = [ref for ref in trait.evidence if ref not in allowed]
            if stray:
                problems.append(
                    f"group {n} trait {t}: {', '.join(stray[:3])} is not evidence from this "
                    "group's own members (cite their theme:<id> or chunk:<id> ids)"
                )
    return problems


def _participant_view(prof: Profile, labels: Mapping[str, str]) -> dict[str, Any]:
    ranked = sorted(prof.themes.items(), key=lambda kv: (-kv[1], kv[0]))[:THEMES_PER_PARTICIPANT]
    view: dict[str, Any] = {"id": prof.participant}
    if prof.attributes:
        view["attributes"] = dict(sorted(prof.attributes.items()))
    if ranked:
        view["raises"] = [{"theme": f"theme:{t}", "label": labels.get(t, t)} for t, _ in ranked]
    said = list(dict.fromkeys([*prof.goals, *prof.quotes]))[: QUOTES_PER_PARTICIPANT + 1]
    if said:
        view["says"] = [{"chunk": f"chunk:{c}", "text": " ".join(t.split())} for c, t in said if t]
    if prof.tools:
        view["tools"] = sorted(prof.tools)
    return view


@dataclass
class Grouper(ModelCalls):
    """Asks the model to refine the proposal; any failure keeps the proposal (reported)."""

    def refine(
        self,
        proposal: list[list[str]],
        profiles: Mapping[str, Profile],
        themes: ThemeReport | None,
    ) -> list[tuple[list[str], Named]] | None:
        from .llm import LLMRequest

        labels = {t.id: t.label for t in themes.themes} if themes else {}
        evidence = {pid: sorted(p.evidence()) for pid, p in profiles.items()}
        request = LLMRequest(
            step=STEP,
            prompt=PROMPT,
            variables={
                "participants": [_participant_view(p, labels) for p in profiles.values()],
                "proposal": [{"members": g} for g in proposal],
                "max_groups": MAX_GROUPS,
            },
            response_model=ParticipantGrouping,
            context={"evidence": evidence, "min_groups": 2},
            sources=tuple(sorted({c for p in profiles.values() for c in p.chunks})),
        )
        [answer] = self.ask([request], ParticipantGrouping) or [None]
        if not isinstance(answer, ParticipantGrouping):
            return None  # pending, or failed (recorded): the proposal stands
        out = []
        for group in answer.groups:
            traits = [CohortTrait(text=t.text, evidence=list(t.evidence)) for t in group.traits]
            out.append(
                (sorted(group.members), Named(group.name, group.description, traits, self.mode))
            )
        return out


# --------------------------------------------------------------------------- building


def _cohort_report(
    basis: str, groups: list[tuple[list[str], Named]], total: int, notes: list[str], rule: str
) -> CohortReport:
    cohorts: list[Cohort] = []
    stats: dict[str, float | int] = {"cohort.total_participants": total}
    keys: set[str] = set()
    for members, named in sorted(groups, key=lambda g: (-len(g[0]), g[1].name)):
        key = slugify(named.name)
        while key in keys:
            key += "_2"
        keys.add(key)
        size = len(members)
        share = round(size / total, 4) if total else 0.0
        cohorts.append(
            Cohort(
                key=key,
                name=named.name,
                basis=basis,  # type: ignore[arg-type]
                rule=rule.format(members=", ".join(members)),
                size=size,
                share=share,
                members=members,
                description=named.description,
                traits=named.traits,
                small=size < 3,
                named_by=named.named_by,
            )
        )
        stats[f"segment.{key}.size"] = size
        stats[f"segment.{key}.share"] = share
    return CohortReport(
        basis=basis,  # type: ignore[arg-type]
        cohorts=cohorts,
        total=total,
        stats=dict(sorted(stats.items())),
        notes=notes,
    )


def metadata_cohorts(workspace: Workspace) -> CohortReport | None:
    """Cohorts from a `segment` / `persona` field on the documents (None when there is none)."""
    people: dict[str, set[str]] = defaultdict(set)
    everyone: set[str] = set()
    for row in iter_rows(workspace.chunks):
        if row.get("role") not in QUOTABLE_ROLES:
            continue
        who = row.get("participant_id") or row.get("user_id") or row.get("ticket_id")
        who = who or row["document_id"]
        everyone.add(who)
        if name := metadata_segment(row):
            people[name].add(who)
    if not people:
        return None
    groups = [
        (sorted(members), Named(name, f"Documents whose segment field is {name!r}.", []))
        for name, members in sorted(people.items())
    ]
    return _cohort_report(
        "metadata",
        groups,
        len(everyone),
        ["no user table: cohorts come from the documents' segment field"],
        "document metadata segment field",
    )


def build_cohorts(
    settings: Settings, workspace: Workspace, provider: str
) -> tuple[CohortReport, list[CallFailure], HostPending | None]:
    """Cohorts for a workspace without a scored user table (cohorts.json is written).

    Failures of the model's call leave the deterministic proposal, reported; in host mode the
    proposal stands (and is written) until the answer comes.
    """
    found = metadata_cohorts(workspace)
    if found is not None:
        write_json(workspace.cohorts, found)
        return found, [], None
    themes = (
        ThemeReport.model_validate(read_json(workspace.themes))
        if workspace.themes.exists()
        else None
    )
    profiles = participant_profiles(workspace, themes, chunk_vectors(settings, workspace))
    if not profiles:
        report = product_cohorts(workspace) or everyone(workspace)
        write_json(workspace.cohorts, report)
        return report, [], None
    total = len(profiles)
    if total < MIN_PARTICIPANTS:
        members = sorted(profiles)
        note = (
            f"{total} interview participant(s): one persona for all of them (grouping needs at "
            f"least {MIN_PARTICIPANTS}; a group of one or two people is a person, not a persona)"
        )
        named = Named(ALL_PARTICIPANTS, "Every interview participant.", [])
        report = _cohort_report("everyone", [(members, named)], total, [note], "every participant")
        report.one_persona_reason = note
        write_json(workspace.cohorts, report)
        return report, [], None
    proposal = propose_groups(list(profiles.values()))
    failures: list[CallFailure] = []
    pending: HostPending | None = None
    groups: list[tuple[list[str], Named]] | None = None
    reason: str | None = None
    if provider in ("openai", "host"):
        grouper = Grouper(settings, workspace, provider)
        groups = grouper.refine(proposal, profiles, themes)
        failures, pending = grouper.failures, grouper.pending
        if groups is None:
            groups = _earlier(workspace, profiles)
    notes = [
        f"no user table: {total} interview participants grouped by what they do, need and raise"
    ]
    if groups is None:
        groups = [(g, describe_group(g, profiles, themes)) for g in proposal]
        notes.append(
            "groups proposed by code (theme profile, own words, attributes, tools; silhouette)"
            + (": the model's refinement failed or is pending" if provider != "offline" else "")
        )
        if len(proposal) == 1:
            # One group of everyone is not a finding about them: named as what it is, with why
            # and what would tell groups apart, rather than after one theme they happen to share.
            groups = [(proposal[0], Named(ALL_PARTICIPANTS, "Every interview participant.", []))]
            remedy = (
                "a roster CSV with role or segment columns beside the transcripts, or a model "
                "(--llm), can tell groups apart"
                if provider == "offline"
                else "the model's grouping did not come back (see the failures or pending "
                "requests): re-run to retry, or add a roster CSV with role or segment columns"
            )
            reason = (
                f"one persona for all {total} participants: every split the code tried set "
                f"single participants apart (a group of one is a person, not a persona); {remedy}"
            )
            notes.append(reason)
    report = _cohort_report(
        "interviews", groups, total, notes, "grouped by what they do, need and raise: {members}"
    )
    report.one_persona_reason = reason
    write_json(workspace.cohorts, report)
    return report, failures, pending


def _earlier(
    workspace: Workspace, profiles: Mapping[str, Profile]
) -> list[tuple[list[str], Named]] | None:
    """A model's earlier grouping of the same participants, kept when this call failed."""
    if not workspace.cohorts.exists():
        return None
    try:
        earlier = CohortReport.model_validate(read_json(workspace.cohorts))
    except ValueError:
        return None
    members = sorted(m for c in earlier.cohorts for m in c.members)
    if earlier.basis != "interviews" or members != sorted(profiles):
        return None
    if not all(c.named_by != "offline" for c in earlier.cohorts):
        return None
    return [
        (c.members, Named(c.name, c.description, c.traits, c.named_by)) for c in earlier.cohorts
    ]


def product_cohorts(workspace: Workspace) -> CohortReport | None:
    """One cohort per product when tickets or reviews name several (None otherwise): the people
    who write about one app are the evidence for that app's persona, not for the others'."""
    from .models import product_in

    tickets: dict[str, set[str]] = defaultdict(set)
    everyone_: set[str] = set()
    for row in iter_rows(workspace.chunks):
        if row.get("role") not in QUOTABLE_ROLES:
            continue
        who = row.get("ticket_id") or row.get("user_id") or row["document_id"]
        everyone_.add(who)
        meta = row.get("metadata") or {}
        product = product_in(meta) or ""
        if product:
            tickets[product].add(who)
    if len(tickets) < 2:
        return None
    total = len(everyone_)
    report = _cohort_report(
        "products",
        [
            (
                [],
                Named(
                    f"{product} customers",
                    f"Customers whose tickets or reviews are about {product}.",
                    [],
                ),
            )
            for product in sorted(tickets)
        ],
        total,
        [f"no user table and no interviews: one persona per product ({len(tickets)} products)"],
        "tickets and reviews about one product",
    )
    # Members are tickets (possibly millions): counted, not listed.
    cohorts, stats = [], dict(report.stats)
    for cohort, product in zip(report.cohorts, sorted(tickets), strict=True):
        size = len(tickets[product])
        share = round(size / total, 4) if total else 0.0
        cohorts.append(
            cohort.model_copy(
                update={
                    "size": size,
                    "share": share,
                    "product": product,
                    "rule": f"tickets and reviews about {product}",
                    "small": False,
                }
            )
        )
        stats[f"segment.{cohort.key}.size"] = size
        stats[f"segment.{cohort.key}.share"] = share
    return report.model_copy(update={"cohorts": cohorts, "stats": dict(sorted(stats.items()))})


def everyone(
    workspace: Workspace,
    note: str = "no user table and no interview participants to group: one persona for everyone",
) -> CohortReport:
    """One cohort of every speaker (tickets-only corpora without a user table)."""
    who: set[str] = set()
    for row in iter_rows(workspace.chunks):
        if row.get("role") in QUOTABLE_ROLES:
            who.add(row.get("participant_id") or row.get("ticket_id") or row["document_id"])
    if not who:
        raise InputError(str(workspace.chunks), "no participant chunks: run `persona ingest` first")
    named = Named(ALL_PARTICIPANTS, "Every customer and participant in the corpus.", [])
    # Ticket corpora can hold millions of ids: the cohort counts them without listing them.
    report = _cohort_report("everyone", [([], named)], len(who), [note], "every participant")
    first = report.cohorts[0].model_copy(update={"size": len(who), "share": 1.0})
    stats = {
        **report.stats,
        f"segment.{first.key}.size": len(who),
        f"segment.{first.key}.share": 1.0,
    }
    return report.model_copy(update={"cohorts": [first], "stats": dict(sorted(stats.items()))})


def cohort_math(report: CohortReport) -> str:
    """One line for summaries: how many cohorts of how many people."""
    sizes = ", ".join(f"{c.name} ({c.size})" for c in report.cohorts)
    return f"{len(report.cohorts)} cohort(s) from {report.basis}: {sizes}"


__all__ = [
    "ALL_PARTICIPANTS",
    "ParticipantGrouping",
    "build_cohorts",
    "cohort_math",
    "describe_group",
    "everyone",
    "metadata_cohorts",
    "participant_profiles",
    "propose_groups",
]
