// Writes the table of checks (model/checkTable.ts) into the lab's docs, between the markers.
// test/checks.test.ts fails when the two differ.
//   node --import tsx scripts/checks-doc.ts
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChecksMarkdown } from "../model/checkTable";

/** The page that carries the table, relative to the repository root. */
export const CHECKS_DOC = "docs/lab.md";
export const CHECKS_BEGIN = "<!-- checks:begin (generated from model/checkTable.ts by scripts/checks-doc.ts) -->";
export const CHECKS_END = "<!-- checks:end -->";

/** The text between the markers (without the newline after the first). */
export function checksSection(doc: string): string {
  const start = doc.indexOf(CHECKS_BEGIN);
  const end = doc.indexOf(CHECKS_END);
  if (start < 0 || end < start) return "";
  return doc.slice(start + CHECKS_BEGIN.length + 1, end);
}

export function withChecksSection(doc: string, table: string): string {
  const start = doc.indexOf(CHECKS_BEGIN);
  const end = doc.indexOf(CHECKS_END);
  if (start < 0 || end < start)
    throw new Error(`${CHECKS_DOC} has no ${CHECKS_BEGIN} ... ${CHECKS_END} markers: add them where the table goes`);
  return `${doc.slice(0, start + CHECKS_BEGIN.length)}\n${table}${doc.slice(end)}`;
}

if (require.main === module) {
  const file = join(__dirname, "..", CHECKS_DOC);
  writeFileSync(file, withChecksSection(readFileSync(file, "utf8"), renderChecksMarkdown()));
  console.log(`wrote the table of checks into ${CHECKS_DOC}`);
}
