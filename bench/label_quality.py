"""How offline theme labels read: the share that show a defect no researcher would write.

Run:  python bench/label_quality.py WORKSPACE [WORKSPACE ...] [--show]

For each workspace's themes.json, counts the labels named offline that
  - keep a disfluency: "uh", "um", a word said twice ("the the", "maybe, maybe"), "(inaudible)";
  - open with a discourse marker that names nothing ("Instead, ...", "Again, ...", "Maybe ...");
  - end on a word that leaves the clause hanging ("... especially", "... because even the, my");
  - are cut off mid-sentence ("...").
A label may have several; `any` is the share with at least one. This does not say a label is
good, only that it is not visibly broken; read the labels themselves with --show.

The word lists here are the bench's own, not agent/naming.py's: one definition of a defect
measures labels from any version of the code, before and after a change alike.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

DISFLUENCY = re.compile(
    r"\b(?:uh+|um+|erm|hmm+|mm+)\b|\((?:unintelligible|inaudible|crosstalk|laughs?)\)"
    r"|\b(\w+)\b[\s,]+\1\b(?!')",
    re.IGNORECASE,
)
OPENER = re.compile(
    r"^(?:[^:]{1,40}:\s+)?(?:so|and|but|well|yeah|yes|oh|instead|again|also|maybe|because|then|"
    r"now|right|see|just|anyway|like|okay|ok|for example|for instance)\b",
    re.IGNORECASE,
)
# Not pronouns or verbs: "I don't know how fast they are" ends where a sentence may end.
HANGING_WORDS = (
    "the a an my our your their his her its of to in on at for with by from about and or but "
    "because so if when which especially like even just really very than"
)
HANGING = frozenset(HANGING_WORDS.split())


def defects(label: str) -> list[str]:
    found = []
    if DISFLUENCY.search(label):
        found.append("disfluency")
    if OPENER.match(label):
        found.append("opener")
    words = re.findall(r"[a-z']+", label.lower().removesuffix("..."))
    if words and words[-1] in HANGING:
        found.append("hanging")
    if label.rstrip().endswith("..."):
        found.append("cut")
    return found


def measure(workspace: Path, show: bool) -> dict[str, object]:
    themes = json.loads((workspace / "themes.json").read_text(encoding="utf-8"))["themes"]
    offline = [t for t in themes if t.get("named_by") == "offline"]
    counts = {"disfluency": 0, "opener": 0, "hanging": 0, "cut": 0, "any": 0}
    for theme in offline:
        found = defects(theme["label"])
        for kind in found:
            counts[kind] += 1
        counts["any"] += bool(found)
        if show:
            print(f"  {'x' if found else ' '} {theme['label']}  {', '.join(found)}")
    n = max(len(offline), 1)
    return {
        "workspace": str(workspace),
        "labels": len(offline),
        **{k: f"{v} ({v / n:.0%})" for k, v in counts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspaces", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true", help="print every label and its defects")
    args = parser.parse_args()
    for workspace in args.workspaces:
        print(json.dumps(measure(workspace, args.show)))


if __name__ == "__main__":
    main()
