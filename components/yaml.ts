// The one YAML writer for the documents the stack sends (kubeadm configs, the kubeconfig): block
// mappings and sequences of plain data. Every string is double-quoted with JSON's escapes, which
// YAML reads as the same scalar, so no value can change the document's shape; only a document's
// apiVersion and kind, identifiers by definition, are written plain, so that line-based readers
// (`grep '^kind: JoinConfiguration$'`) find them. Fields left undefined are omitted, as Go's
// omitempty does.

/** A YAML document's root: a mapping of plain data (strings, numbers, booleans, arrays, objects). */
export type YamlMapping = object;

// Keys YAML 1.1 readers take for booleans or null, quoted even though they look plain.
const RESERVED_KEY = /^(?:y|n|yes|no|true|false|on|off|null)$/i;
const PLAIN_KEY = /^[A-Za-z][A-Za-z0-9-]*$/;
// Characters YAML may not carry raw in a scalar, or reads as line breaks (NEL, LS, PS).
const UNPRINTABLE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
const TYPE_META = new Set(["apiVersion", "kind"]);
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9./-]*$/;

function pad(indent: number): string {
  return " ".repeat(indent);
}

function quoteKey(key: string): string {
  return PLAIN_KEY.test(key) && !RESERVED_KEY.test(key) ? key : quoteString(key);
}

function quoteString(value: string): string {
  return JSON.stringify(value).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

type Scalar = string | number | boolean;

function isScalar(value: unknown): value is Scalar {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function scalar(value: Scalar, path: string): string {
  if (typeof value === "string") return quoteString(value);
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`yaml: ${path} is ${value}, not a number`);
  return String(value);
}

/** The defined fields of a mapping; anything that is not plain data is refused by name. */
function fieldsOf(value: unknown, path: string): Array<[string, unknown]> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(
      `yaml: ${path} is ${value === null ? "null" : typeof value}, not a string, number, boolean, list or mapping`,
    );
  }
  return Object.entries(value).filter(([, field]) => field !== undefined);
}

/** `head` (a `key:` or `-`) followed by the value: inline when scalar or empty, else the lines below it. */
function valueLines(head: string, value: unknown, indent: number, path: string): string[] {
  if (isScalar(value)) return [`${head} ${scalar(value, path)}`];
  if (Array.isArray(value)) {
    return value.length === 0 ? [`${head} []`] : [head, ...sequenceLines(value, indent + 2, path)];
  }
  const fields = fieldsOf(value, path);
  return fields.length === 0 ? [`${head} {}`] : [head, ...mappingLines(fields, indent + 2, path)];
}

function mappingLines(fields: Array<[string, unknown]>, indent: number, path: string): string[] {
  return fields.flatMap(([key, value]) =>
    valueLines(`${pad(indent)}${quoteKey(key)}:`, value, indent, `${path}.${key}`),
  );
}

/** A sequence's items; a mapping item starts on the dash's line, the way kubectl prints them. */
function sequenceLines(items: readonly unknown[], indent: number, path: string): string[] {
  return items.flatMap((item, i) => {
    const itemPath = `${path}[${i}]`;
    if (isScalar(item) || Array.isArray(item)) return valueLines(`${pad(indent)}-`, item, indent, itemPath);
    const fields = fieldsOf(item, itemPath);
    if (fields.length === 0) return [`${pad(indent)}- {}`];
    const lines = mappingLines(fields, indent + 2, itemPath);
    lines[0] = `${pad(indent)}- ${lines[0].slice(indent + 2)}`;
    return lines;
  });
}

/** A document's apiVersion or kind, plain; anything but an identifier there is refused. */
function typeMetaLine(key: string, value: unknown): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    throw new Error(`yaml: $.${key} is ${JSON.stringify(value)}, not an identifier like v1 or Config`);
  }
  return `${key}: ${value}`;
}

/** One YAML document, ending in a newline. */
export function toYaml(document: YamlMapping): string {
  const lines = fieldsOf(document, "$").flatMap(([key, value]) =>
    TYPE_META.has(key) ? [typeMetaLine(key, value)] : mappingLines([[key, value]], 0, "$"),
  );
  return `${lines.join("\n")}\n`;
}

/** Several documents in one stream, separated by `---`. */
export function toYamlStream(documents: readonly YamlMapping[]): string {
  return documents.map(toYaml).join("---\n");
}
