#!/usr/bin/env python3
"""Each role's README variable section, generated from the `main` entry point of meta/argument_specs.yml.

    role-docs.py            rewrite the section between the markers of every roles/*/README.md
    role-docs.py --check    write nothing; fail when a README, a spec default or defaults/main.yml drifted

A `# --- Title ---` comment line among the options of `main` starts a `### Title` group. Each variable's block
shows its value as written in defaults/main.yml (the spec default and that value are checked to be equal).
"""

import argparse
import pathlib
import re
import sys

import yaml

BEGIN = "<!-- BEGIN ROLE VARIABLES: generated from meta/argument_specs.yml by scripts/role-docs.py, do not edit -->"
END = "<!-- END ROLE VARIABLES -->"
WIDTH = 115
GROUP_COMMENT = re.compile(r"^\s*#\s*---\s*(.*?)\s*-*\s*$")
# The ansible-doc markup the specs use, as Markdown; like ansible-doc, a construct ends at the first ")".
MARKUP = [
    (re.compile(r"\b[CV]\(([^)]+)\)"), r"`\1`"),
    (re.compile(r"\bI\(([^)]+)\)"), r"*\1*"),
]
# Words that would start a list, heading or quote if a wrapped line began with them.
BLOCK_START = re.compile(r"^([-+*>#]+|\d+[.)])$")


class Role:
    def __init__(self, path):
        self.name = path.name
        spec_text = (path / "meta" / "argument_specs.yml").read_text()
        self.entry_points = yaml.safe_load(spec_text)["argument_specs"]
        self.options = self.entry_points["main"].get("options") or {}
        self.groups = _groups(spec_text)
        defaults_path = path / "defaults" / "main.yml"
        defaults_text = defaults_path.read_text() if defaults_path.exists() else ""
        self.defaults = yaml.safe_load(defaults_text) or {}
        self.snippets = _snippets(defaults_text)
        self.readme = path / "README.md"


def _groups(spec_text):
    """{option: group title} for options that a `# --- Title ---` line precedes (the comment is not in the data)."""
    lines = spec_text.splitlines()
    node = yaml.compose(spec_text)
    for name in ("argument_specs", "main", "options"):
        key, node = next((k, v) for k, v in node.value if k.value == name)
    groups = {}
    start = key.start_mark.line + 1
    for key, _ in node.value:
        titles = [m.group(1) for m in map(GROUP_COMMENT.match, lines[start:key.start_mark.line]) if m]
        if titles:
            groups[key.value] = titles[-1]
        start = key.start_mark.line + 1
    return groups


def _snippets(defaults_text):
    """{variable: its lines in defaults/main.yml}, without comment lines unless they belong to the value."""
    if not defaults_text.strip():
        return {}
    lines = defaults_text.splitlines()
    snippets = {}
    for key, value in yaml.compose(defaults_text).value:
        end = value.end_mark.line + (1 if value.end_mark.column else 0)
        raw = lines[key.start_mark.line:end]
        while raw and (not raw[-1].strip() or raw[-1].lstrip().startswith("#")):
            raw.pop()
        parsed = yaml.safe_load("\n".join(raw))
        bare = [line for line in raw if not line.lstrip().startswith("#")]
        # A "#" line inside a block scalar is part of the value: then keep every line.
        snippets[key.value] = "\n".join(bare if same(yaml.safe_load("\n".join(bare)), parsed) else raw)
    return snippets


def same(a, b):
    """Equal values of equal types (True == 1 and 1 == 1.0 in Python; not here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def scalar(value):
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip()


def short(value):
    text = repr(value) if isinstance(value, str) else scalar(value)
    return text if len(text) <= 70 else text[:67] + "..."


def templated(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return any(templated(item) for item in value)
    return isinstance(value, str) and "{{" in value


def markdown(text):
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text


def words(text):
    """Words to wrap; a `code span` stays on one line."""
    out = []
    for word in text.split(" "):
        if out and out[-1].count("`") % 2:
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def wrap(text, first="", rest=""):
    """Greedy wrap at WIDTH; a word that would start a Markdown block stays on the line before."""
    rows = [[]]
    for word in words(text):
        length = len(first if len(rows) == 1 else rest) + len(" ".join(rows[-1] + [word]))
        if rows[-1] and length > WIDTH and not BLOCK_START.match(word):
            rows.append([])
        rows[-1].append(word)
    return "\n".join((rest if i else first) + " ".join(row) for i, row in enumerate(rows))


def texts(description):
    """Description paragraphs as one-line Markdown."""
    items = [description] if isinstance(description, str) else description or []
    return [" ".join(markdown(str(item)).split()) for item in items]


def paragraphs(description):
    """Wrapped Markdown blocks; consecutive "- " paragraphs make one list."""
    blocks = []
    for text in texts(description):
        if text.startswith("- "):
            bullet = wrap(text[2:], "- ", "  ")
            if blocks and blocks[-1].startswith("- "):
                blocks[-1] += "\n" + bullet
                continue
            blocks.append(bullet)
        else:
            blocks.append(wrap(text))
    return blocks


def type_of(spec):
    kind = f"`{spec.get('type', 'str')}`"
    return kind + f" of `{spec['elements']}`" if "elements" in spec else kind


def facts(spec):
    """The sentence after the description: type, required, choices."""
    parts = [f"Type: {type_of(spec)}."]
    if spec.get("required"):
        parts.append("Required.")
    if "choices" in spec:
        parts.append("Choices: " + ", ".join(f"`{scalar(c)}`" for c in spec["choices"]) + ".")
    return " ".join(parts)


def suboptions(options, indent=""):
    lines = []
    for name, spec in options.items():
        notes = [type_of(spec)]
        if spec.get("required"):
            notes.append("required")
        if "default" in spec:
            notes.append(f"default `{scalar(spec['default'])}`")
        if "choices" in spec:
            notes.append("one of " + ", ".join(f"`{scalar(c)}`" for c in spec["choices"]))
        text = " ".join(texts(spec.get("description")))
        lines.append(wrap(f"`{name}` ({', '.join(notes)}): {text}", indent + "- ", indent + "  "))
        if spec.get("options"):
            lines.extend(suboptions(spec["options"], indent + "  "))
    return lines


def value_block(role, name, spec):
    if name in role.snippets:
        value = role.snippets[name]
    elif "default" in spec:
        value = yaml.safe_dump({name: spec["default"]}, default_flow_style=None, sort_keys=False,
                               width=10**6).strip()
    else:
        value = f"{name}:  # " + ("required" if spec.get("required") else "no default")
    return f"```yaml\n{value}\n```"


def render(role):
    blocks = []
    for name, spec in role.options.items():
        if name in role.groups:
            blocks.append(f"### {role.groups[name]}")
        blocks.append(value_block(role, name, spec))
        blocks.extend(paragraphs(spec.get("description")))
        blocks.append(facts(spec))
        if spec.get("options"):
            blocks.append("Each " + ("entry" if spec.get("type") == "list" else "key") + ":\n\n"
                          + "\n".join(suboptions(spec["options"])))
    return "\n\n".join(blocks) + "\n"


def split_readme(text):
    """(before, section, after) around the markers, or None when they are missing."""
    start, end = text.find(BEGIN + "\n"), text.find("\n" + END)
    if start < 0 or end < start:
        return None
    body = start + len(BEGIN) + 1
    return text[:body], text[body:end + 1].strip("\n") + "\n", text[end + 1:]


def chunks(section):
    """{variable or heading: its text} of a generated section, to name what differs."""
    parts = re.split(r"^(?=### |```yaml\n[A-Za-z_]\w*:)", section, flags=re.M)
    found = {}
    for part in filter(None, parts):
        match = re.match(r"```yaml\n([A-Za-z_]\w*):", part)
        found[match.group(1) if match else part.splitlines()[0]] = part.strip()
    return found


def readme_problems(role):
    parts = split_readme(role.readme.read_text()) if role.readme.exists() else None
    if parts is None:
        return [f"{role.name}: README.md has no lines {BEGIN!r} ... {END!r}"]
    wanted, written = render(role), parts[1].strip("\n") + "\n"
    if wanted == written:
        return []
    new, old = chunks(wanted), chunks(written)
    names = [k for k in dict.fromkeys([*new, *old]) if new.get(k) != old.get(k)]
    return [f"{role.name}: {name}: README.md differs from meta/argument_specs.yml (run make docs)"
            for name in names] or [f"{role.name}: README.md variable section is out of order (run make docs)"]


def default_problems(role):
    problems = []
    for name in role.defaults:
        if name not in role.options:
            problems.append(f"{role.name}: {name}: set in defaults/main.yml but not an option of the main entry "
                            f"point in meta/argument_specs.yml")
    for name, spec in role.options.items():
        # ansible templates spec defaults before the role runs, so one computed from facts or role vars may stay
        # in defaults/main.yml alone; any other value must be in the spec too.
        value = role.defaults.get(name)
        if "default" not in spec and name in role.defaults and not spec.get("required") and not templated(value):
            problems.append(f"{role.name}: {name}: defaults/main.yml sets {short(value)} but "
                            f"meta/argument_specs.yml has no default (add it there, or mark it required)")
    # Every entry point: its defaults document the same variables; options shared through an anchor once.
    checked = set()
    for entry, spec in role.entry_points.items():
        for name, option in (spec.get("options") or {}).items():
            if "default" not in option or id(option) in checked:
                continue
            checked.add(id(option))
            where = f"{role.name}: {name}: meta/argument_specs.yml ({entry})"
            if name not in role.defaults:
                problems.append(f"{where} has default {short(option['default'])} but defaults/main.yml "
                                f"does not set it")
            elif not same(option["default"], role.defaults[name]):
                problems.append(f"{where} has default {short(option['default'])}, defaults/main.yml "
                                f"{short(role.defaults[name])}")
    return problems


def description_problems(role):
    """Descriptions that would not reach ansible-doc and the README as written."""
    problems = []

    def walk(options, path):
        for name, option in options.items():
            description = option.get("description")
            for item in [description] if isinstance(description, str) else description or []:
                if not isinstance(item, str):
                    # A plain YAML scalar with ": " in it reads as a mapping.
                    problems.append(f"{role.name}: {path}{name}: a description paragraph is not text: {item!r}")
                elif re.search(r"\{[{%#]", item):
                    # ansible templates the whole spec before the role runs, descriptions included.
                    problems.append(f"{role.name}: {path}{name}: Jinja in the description (ansible templates it)")
            walk(option.get("options") or {}, f"{path}{name}.")

    seen = set()
    for spec in role.entry_points.values():
        options = spec.get("options") or {}
        if id(options) not in seen:
            seen.add(id(options))
            walk(options, "")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on any drift")
    parser.add_argument("--roles-dir", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent / "roles")
    args = parser.parse_args()

    problems = []
    for path in sorted(p.parent.parent for p in args.roles_dir.glob("*/meta/argument_specs.yml")):
        role = Role(path)
        problems += default_problems(role) + description_problems(role)
        if args.check:
            problems += readme_problems(role)
            continue
        parts = split_readme(role.readme.read_text()) if role.readme.exists() else None
        if parts is None:
            problems += readme_problems(role)
        elif parts[1] != render(role):
            role.readme.write_text(parts[0] + render(role) + parts[2])
            print(f"role-docs: wrote {role.readme}")
    for problem in problems:
        print(f"role-docs: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
