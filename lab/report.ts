// How the lab prints its results. By default everything fits a 120-column terminal: the
// table has the row, from -> to, the verdict and the time; failures follow, one per line,
// with what was expected and what was seen. `--wide` prints every column as it is, and
// `--json` writes everything. Colour only on a terminal (and never with NO_COLOR).
import type { CheckRow } from "../model/checks";
import type { Throughput } from "./throughput";

export const DEFAULT_WIDTH = 120;

export interface Style {
  /** Every column at full length, no fitting. */
  readonly wide: boolean;
  readonly color: boolean;
  readonly width: number;
}

/** The style for a stream: colour on a TTY unless NO_COLOR is set or TERM is dumb. */
export function styleFor(stream: { isTTY?: boolean }, wide: boolean, env: NodeJS.ProcessEnv = process.env): Style {
  const color = stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
  return { wide, color, width: DEFAULT_WIDTH };
}

const paint = (style: Style, code: string, text: string) => (style.color ? `\x1b[${code}m${text}\x1b[0m` : text);
const verdict = (style: Style, ok: boolean) => (ok ? paint(style, "32", "PASS") : paint(style, "1;31", "FAIL"));

/** Cuts text to `width` columns, marking the cut. */
export function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Wraps a line at spaces to `width` columns; continuation lines are indented. */
export function fit(text: string, width: number, indent = 4): string[] {
  if (text.length <= width) return [text];
  const out: string[] = [];
  let rest = text;
  let pad = "";
  while (pad.length + rest.length > width) {
    const room = width - pad.length;
    let cut = rest.lastIndexOf(" ", room);
    if (cut <= 0) cut = room;
    out.push(pad + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    pad = " ".repeat(indent);
  }
  if (rest) out.push(pad + rest);
  return out;
}

const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - text.length));
const route = (r: CheckRow) => `${r.from} → ${r.to}`;

/**
 * Lines of a table: a header, a rule, then rows grouped under their phase. The "result"
 * column is painted after padding (colour codes take no columns); the last column is
 * right-aligned.
 */
function table(
  rows: readonly CheckRow[],
  headers: string[],
  cells: (r: CheckRow) => string[],
  widths: number[],
  style: Style,
): string[] {
  const result = headers.indexOf("result");
  const last = headers.length - 1;
  const cell = (text: string, i: number, row?: CheckRow) => {
    if (row && i === result) return verdict(style, row.ok) + " ".repeat(Math.max(0, widths[i] - 4));
    return i === last ? text.padStart(widths[i]) : pad(text, widths[i]);
  };
  const line = (texts: string[], row?: CheckRow) => `  ${texts.map((t, i) => cell(t, i, row)).join("  ")}`.trimEnd();
  const out = [line(headers), `  ${widths.map((w) => "-".repeat(w)).join("  ")}`];
  let phase = "";
  for (const r of rows) {
    if (r.phase !== phase) {
      phase = r.phase;
      out.push(`  [${phase}]`);
    }
    out.push(line(cells(r), r));
  }
  return out;
}

/**
 * The table that fits `style.width`: row, from -> to, verdict, ms. Both text columns get
 * their full length when they fit together; otherwise the row's name keeps at least 40% of
 * the room and both are cut, marked with "…".
 */
function narrowTable(rows: readonly CheckRow[], style: Style): string[] {
  const ms = Math.max(2, ...rows.map((r) => String(r.ms).length));
  const longestGroup = Math.max(5, ...rows.map((r) => r.group.length));
  const longestPath = Math.max(11, ...rows.map((r) => route(r).length));
  // 2 indent + three 2-column gaps + "result" (6)
  const room = style.width - 2 - 6 - 6 - ms;
  const group =
    longestGroup + longestPath <= room
      ? longestGroup
      : Math.min(longestGroup, Math.max(room - longestPath, Math.ceil(room * 0.4)));
  const path = Math.min(longestPath, room - group);
  return table(
    rows,
    ["check", "from → to", "result", "ms"],
    (r) => [clip(r.group, group), clip(route(r), path), "", String(r.ms)],
    [group, path, 6, ms],
    style,
  );
}

/** Every column in full, as the JSON has it. */
function wideTable(rows: readonly CheckRow[], style: Style): string[] {
  const cells = (r: CheckRow) => [r.group, r.from, r.to, r.expect, r.seen, "", String(r.ms)];
  const headers = ["check", "from", "to", "expected", "seen", "result", "ms"];
  const widths = headers.map((h, i) =>
    h === "result" ? 6 : Math.max(h.length, ...rows.map((r) => cells(r)[i].length)),
  );
  return table(rows, headers, cells, widths, style);
}

/** Each failure on a line of its own: the row, from -> to, what was expected and what was seen. */
export function failureLines(rows: readonly CheckRow[], style: Style): string[] {
  const failed = rows.filter((r) => !r.ok);
  if (failed.length === 0) return [];
  const lines = failed.map(
    (r) => `  ${verdict(style, false)} [${r.phase}] ${r.group}: ${route(r)}: expected ${r.expect}; seen ${r.seen}`,
  );
  const header = `${failed.length} of ${rows.length} checks failed:`;
  if (style.wide) return [header, ...lines];
  // Fitted, the colour codes are not columns: measure and wrap the plain text, then paint.
  return [
    header,
    ...failed.flatMap((r) =>
      fit(
        `  FAIL [${r.phase}] ${r.group}: ${route(r)}: expected ${clip(r.expect, 200)}; seen ${clip(r.seen, 400)}`,
        style.width,
        9,
      ).map((l, i) => (i === 0 ? l.replace("FAIL", verdict(style, false)) : l)),
    ),
  ];
}

export function throughputLines(tp: Throughput | undefined): string[] {
  if (!tp) return [];
  const row = (label: string, t: Throughput["podToPod"]) =>
    `  ${label.padEnd(25)}${clip(`${t.from} -> ${t.to}`, 40).padEnd(42)}${t.gbps.toFixed(2).padStart(7)} Gbit/s  (${t.retransmits} retransmits)`;
  return [
    `Throughput (iperf3, TCP, ${tp.seconds} s each):`,
    row("pod -> pod across nodes", tp.podToPod),
    row("node -> node", tp.nodeToNode),
    `  pod/node ratio           ${(tp.podToPod.gbps / tp.nodeToNode.gbps).toFixed(2)}`,
    "  (node -> node crosses only the VPC bridge; pod -> pod is also routed by both nodes and the router)",
  ];
}

/** The results: the table, the throughput, the failures (if any), and the count. */
export function renderSummary(rows: readonly CheckRow[], tp: Throughput | undefined, style: Style): string {
  const lines = ["", ...(style.wide ? wideTable(rows, style) : narrowTable(rows, style)), ""];
  const tpLines = throughputLines(tp);
  if (tpLines.length) lines.push(...tpLines, "");
  const failures = failureLines(rows, style);
  lines.push(...(failures.length ? failures : [`All ${rows.length} checks passed.`]));
  return lines.join("\n");
}

/** A sink for the lab's progress lines that fits each to the width (unless wide). */
export function fittedLines(write: (line: string) => void, style: Style): (text: string) => void {
  return (text) => {
    for (const raw of text.split("\n")) for (const line of style.wide ? [raw] : fit(raw, style.width, 11)) write(line);
  };
}
