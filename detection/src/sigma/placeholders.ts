/** The `expand` modifier: `%name%` placeholders replaced by configured value lists. */
import { fail } from "./errors";

/**
 * Returns every combination of placeholder values. `\%` keeps a literal percent sign (and the
 * backslash is dropped). A placeholder without configured values refuses the rule, as the
 * specification requires of tools that cannot resolve it.
 */
export function expandPlaceholders(text: string, values: Record<string, string[]>): string[] {
  let outs = [""];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && text[i + 1] === "%") {
      outs = outs.map((o) => o + "%");
      i += 2;
    } else if (c === "%") {
      const end = text.indexOf("%", i + 1);
      if (end < 0) fail(`unterminated placeholder in '${text}'`, "placeholder");
      const name = text.slice(i + 1, end);
      const vals = values[name];
      if (!vals || vals.length === 0) fail(`placeholder %${name}% has no configured values`, `placeholder %${name}%`);
      outs = outs.flatMap((o) => vals.map((v) => o + v));
      i = end + 1;
    } else {
      outs = outs.map((o) => o + c);
      i++;
    }
  }
  return outs;
}
