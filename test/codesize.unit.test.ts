// Functions outside test/ stay short enough to read in one screen or two: none over
// MAX_FUNCTION_LINES. The TypeScript parser finds every function, method, constructor and
// arrow function with a body, in every tracked .ts and .mjs file.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const ROOT = join(__dirname, "..");
const MAX_FUNCTION_LINES = 100;

interface LongFunction {
  where: string;
  lines: number;
}

function trackedSources(): string[] {
  const out = execFileSync("git", ["ls-files", "*.ts", "*.mjs"], { cwd: ROOT, encoding: "utf8" });
  return out.split("\n").filter((file) => file !== "" && !file.startsWith("test/"));
}

function longFunctions(file: string, text: string, limit: number): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > limit) found.push({ where: `${file}:${first + 1}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("code size", () => {
  it("finds a long function (the check itself works)", () => {
    const body = Array.from({ length: 5 }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const text = `export function f() {\n${body}\n}\nclass C { m() {\n${body}\n} }\nconst g = () => {\n${body}\n};\n`;
    assert.deepEqual(
      longFunctions("x.ts", text, 6).map((f) => f.where),
      ["x.ts:1", "x.ts:8", "x.ts:15"],
    );
    assert.deepEqual(longFunctions("x.ts", text, 7), []);
  });

  it(`has no function outside test/ over ${MAX_FUNCTION_LINES} lines`, () => {
    const files = trackedSources();
    assert.ok(files.includes("cni/plugin.ts"), "the tracked sources are found");
    const long = files.flatMap((file) =>
      longFunctions(file, readFileSync(join(ROOT, file), "utf8"), MAX_FUNCTION_LINES),
    );
    assert.deepEqual(
      long.map((f) => `${f.where} (${f.lines} lines)`),
      [],
      "split these functions into helpers",
    );
  });
});
