// lab/report.ts: the lab's printed results fit 120 columns by default, whatever the rows
// hold; --wide shows every column; failures are listed one per line with what was
// expected and seen; colour only on a terminal.
import assert from "node:assert/strict";
import type { Throughput } from "../lab/lab";
import { clip, DEFAULT_WIDTH, fit, fittedLines, renderSummary, styleFor } from "../lab/report";
import type { CheckRow } from "../model/checks";

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const widest = (text: string) => Math.max(...text.split("\n").map((l) => plain(l).length));

/** A big lab's worth of rows (16 workers, long names), one failure with a long CNI error. */
function rows(): CheckRow[] {
  const out: CheckRow[] = [];
  for (let w = 1; w <= 16; w++) {
    out.push({
      phase: "initial",
      group: "pod -> pod, other node",
      from: `shell-worker-${w}`,
      to: `web-worker-${(w % 16) + 1} 10.244.${(w % 16) + 1}.2:80`,
      expect: `src 10.244.${w}.3`,
      seen: `src 10.244.${w}.3`,
      ok: true,
      ms: 7,
    });
    out.push({
      phase: "initial",
      group: "service from a node (OUTPUT), with a group name too long for its column",
      from: `node control-plane-with-a-long-name-${w}`,
      to: `service 10.96.0.10:80 through LAB-SERVICES and LAB-SVC-WEB and LAB-SEP-WEB on node ${w}`,
      expect: `web-worker-1 src 10.0.1.10`,
      seen: `web-worker-1 src 10.0.1.10`,
      ok: true,
      ms: 12345,
    });
  }
  out.push({
    phase: "after re-add",
    group: "CNI CHECK (conflist)",
    from: "worker-3",
    to: "shell-worker-3",
    expect: "ok",
    seen: `podnet CHECK failed (CNI error 7): ${"the node rules are missing: PODNET-FORWARD ".repeat(25)}`,
    ok: false,
    ms: 88,
  });
  return out;
}

const tp: Throughput = {
  seconds: 2,
  podToPod: { from: "shell-worker-1", to: "shell-worker-2", gbps: 14.86, retransmits: 2001 },
  nodeToNode: { from: "worker-1", to: "worker-2", gbps: 15.34, retransmits: 728 },
};

describe("lab report (lab/report.ts)", () => {
  it("fits 120 columns by default: row, from → to, verdict, ms", () => {
    const text = renderSummary(rows(), tp, { wide: false, color: false, width: DEFAULT_WIDTH });
    assert.ok(widest(text) <= 120, `widest line is ${widest(text)} columns:\n${text}`);
    const header = text.split("\n").find((l) => l.includes("from → to")) ?? "";
    assert.match(header, /^ {2}check +from → to +result +ms$/);
    assert.doesNotMatch(header, /expected|seen/);
    assert.match(text, /shell-worker-1 → web-worker-2 10\.244\.2\.2:80 +PASS +7$/m);
    // the long route was cut, and says so
    assert.match(text, /node control-plane-with-a-long-name-1 → service .*…/);
  });

  it("gives both columns their full length when they fit together", () => {
    const group = "SG without pod CIDR: pod -> pod, other node"; // 43 columns
    const row: CheckRow = {
      phase: "initial",
      group,
      from: "coredns-worker-1",
      to: '"web" via kube-dns 10.96.0.10:53',
      expect: "",
      seen: "",
      ok: true,
      ms: 1008,
    };
    const text = renderSummary([row], undefined, { wide: false, color: false, width: DEFAULT_WIDTH });
    assert.ok(text.includes(`${group}  coredns-worker-1 → "web" via kube-dns 10.96.0.10:53  PASS    1008`), text);
    assert.doesNotMatch(text, /…/);
  });

  it("lists each failure on a line of its own (wrapped to the width) with expected and seen", () => {
    const text = renderSummary(rows(), tp, { wide: false, color: false, width: DEFAULT_WIDTH });
    const lines = text.split("\n");
    const at = lines.indexOf("1 of 33 checks failed:");
    assert.ok(at > lines.findIndex((l) => l.includes("from → to")), "failures come after the table");
    assert.match(
      lines[at + 1],
      /^ {2}FAIL \[after re-add\] CNI CHECK \(conflist\): worker-3 → shell-worker-3: expected ok; seen podnet CHECK failed/,
    );
    assert.ok(
      lines.slice(at + 2).every((l) => l.startsWith("         ")),
      "continuations are indented under it",
    );
    assert.doesNotMatch(text, /All \d+ checks passed/);
  });

  it("--wide prints every column in full, expected and seen included", () => {
    const text = renderSummary(rows(), undefined, { wide: true, color: false, width: DEFAULT_WIDTH });
    assert.match(text.split("\n")[1], /^ {2}check +from +to +expected +seen +result +ms$/);
    assert.ok(text.includes("the node rules are missing: PODNET-FORWARD ".repeat(25).trimEnd()));
    assert.ok(widest(text) > 120);
  });

  it("everything passed: the count, and no failure list", () => {
    const ok = rows().filter((r) => r.ok);
    const text = renderSummary(ok, undefined, { wide: false, color: false, width: DEFAULT_WIDTH });
    assert.match(text, /All 32 checks passed\.$/);
  });

  it("colour only on a TTY, never with NO_COLOR or TERM=dumb; the width is the same either way", () => {
    assert.equal(styleFor({ isTTY: false }, false, {}).color, false);
    assert.equal(styleFor({}, false, {}).color, false);
    assert.equal(styleFor({ isTTY: true }, false, {}).color, true);
    assert.equal(styleFor({ isTTY: true }, false, { NO_COLOR: "1" }).color, false);
    assert.equal(styleFor({ isTTY: true }, false, { TERM: "dumb" }).color, false);
    const coloured = renderSummary(rows(), tp, { wide: false, color: true, width: DEFAULT_WIDTH });
    assert.match(coloured, /\x1b\[32mPASS\x1b\[0m/);
    assert.match(coloured, /\x1b\[1;31mFAIL\x1b\[0m/);
    assert.ok(widest(coloured) <= 120);
    assert.doesNotMatch(renderSummary(rows(), tp, { wide: false, color: false, width: DEFAULT_WIDTH }), /\x1b\[/);
  });

  it("fit wraps at spaces, clip marks a cut, and the progress sink fits every line", () => {
    const long = `[  0.09s] CNI: ${"word ".repeat(60)}`;
    const wrapped = fit(long, 120, 11);
    assert.ok(wrapped.length > 1 && wrapped.every((l) => l.length <= 120));
    assert.ok(wrapped.slice(1).every((l) => l.startsWith(" ".repeat(11)) && !l.startsWith(" ".repeat(12))));
    assert.equal(fit("short", 120).length, 1);
    assert.equal(
      fit("x".repeat(300), 120).every((l) => l.length <= 120),
      true,
      "a word longer than the width is cut",
    );
    assert.equal(clip("abcdef", 4), "abc…");
    const seen: string[] = [];
    fittedLines((l) => seen.push(l), { wide: false, color: false, width: 120 })(`${long}\nsecond`);
    assert.ok(seen.every((l) => l.length <= 120) && seen[seen.length - 1] === "second");
    const wideSeen: string[] = [];
    fittedLines((l) => wideSeen.push(l), { wide: true, color: false, width: 120 })(long);
    assert.deepEqual(wideSeen, [long]);
  });
});
