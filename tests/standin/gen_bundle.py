#!/usr/bin/env python3
"""Write a deterministic, realistic-looking JS bundle (~350 KB) for the
Mathesar TEST DOUBLE: `gen_bundle.py OUT_FILE [SEED]`. Same seed, same bytes."""
import random
import sys

WORDS = ("table column record schema database role filter sort group cell row "
         "view form query exploration summary value type number text date "
         "boolean money email uri json array link constraint index privilege "
         "collaborator server connection setting user theme toast modal").split()


def ident(rng, parts=2):
    w = [rng.choice(WORDS) for _ in range(parts)]
    return w[0] + "".join(x.capitalize() for x in w[1:])


def function(rng, n):
    name, arg, other = ident(rng), ident(rng, 1), ident(rng)
    lines = [f"export async function {name}{n}({arg}, options = {{}}) {{",
             f"  const {other} = new Map();"]
    for i in range(rng.randint(3, 9)):
        k = ident(rng) + str(i)
        kind = rng.randrange(4)
        if kind == 0:
            lines.append(f"  if ({arg}?.{k} !== undefined) {{ {other}.set('{k}', {arg}.{k}); }}")
        elif kind == 1:
            lines.append(f"  for (const item of {arg}.{k} ?? []) {{ {other}.set(item.id, {{ ...item, "
                         f"{ident(rng, 1)}: options.{ident(rng, 1)} ?? {rng.randint(0, 999)} }}); }}")
        elif kind == 2:
            lines.append(f"  const {k} = await rpc.call('{rng.choice(WORDS)}s.{rng.choice(WORDS)}.list', "
                         f"{{ {ident(rng, 1)}_id: {arg}.id }});")
        else:
            lines.append(f"  {other}.set('{k}', `{rng.choice(WORDS)} ${{{arg}.{ident(rng, 1)}}} "
                         f"{rng.choice(WORDS)}`);")
    lines += [f"  return {{ {other}, size: {other}.size, label: '{ident(rng, 3)}' }};", "}", ""]
    return "\n".join(lines)


def main():
    out = sys.argv[1]
    rng = random.Random(sys.argv[2] if len(sys.argv) > 2 else "mathesar-standin")
    parts = ["/* TEST DOUBLE — not Mathesar; a stand-in bundle generated for "
             "mathesar.deploy's tests. */", "const rpc = { call: async (m, p) => ({ m, p }) };", ""]
    size, n = 0, 0
    while size < 350_000:
        chunk = function(rng, n)
        parts.append(chunk)
        size += len(chunk) + 1
        n += 1
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    main()
