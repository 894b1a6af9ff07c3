// The stack's one YAML writer (components/yaml.ts): what it writes parses back to the same data in a
// YAML reader, whatever the strings hold, in the block layout kubeadm's and kubectl's files use.
import assert from "node:assert/strict";
import { toYaml, toYamlStream } from "../components/yaml";

const yaml = require("js-yaml") as { load(text: string): unknown; loadAll(text: string): unknown[] };

describe("yaml writer", () => {
  it("writes nested mappings and sequences in block style, strings double-quoted", () => {
    const text = toYaml({
      apiVersion: "v1",
      kind: "Config",
      port: 6443,
      on: true,
      list: ["a", 1],
      items: [{ name: "x", value: "y" }, {}],
      nested: { empty: [], none: {}, deeper: { key: "v" } },
      lists: [["a"], []],
    });
    assert.equal(
      text,
      [
        "apiVersion: v1",
        "kind: Config",
        "port: 6443",
        '"on": true',
        "list:",
        '  - "a"',
        "  - 1",
        "items:",
        '  - name: "x"',
        '    value: "y"',
        "  - {}",
        "nested:",
        "  empty: []",
        "  none: {}",
        "  deeper:",
        '    key: "v"',
        "lists:",
        "  -",
        '    - "a"',
        "  - []",
        "",
      ].join("\n"),
    );
  });

  it("round-trips strings that would break a hand-written document, with only printable characters", () => {
    const awkward = [
      "",
      "true",
      "null",
      "~",
      "0x1F",
      "1e3",
      "a: b",
      "- item",
      "# not a comment",
      "  leading and trailing  ",
      'quote " and \\ backslash',
      "line\nbreak\r\ttab",
      "---",
      "é ü 中文 😀",
      "nel\u0085 ls\u2028 ps\u2029 bom\ufeff del\u007f",
      "\u0000\u001b",
    ];
    const data = {
      values: awkward,
      byKey: Object.fromEntries(awkward.map((s, i) => [s || `empty${i}`, s])),
      keys: { "node-ip": "1", "a b": "2", "1x": "3", yes: "4", Off: "5", "x:y": "6" },
    };
    const text = toYaml(data);
    assert.deepEqual(yaml.load(text), data);
    // Go's YAML reader (kubeadm's) refuses control characters, and YAML 1.1 breaks lines at NEL, LS and PS.
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/);
  });

  it("writes YAML 1.1's boolean-looking keys quoted, so Go's YAML readers keep them strings", () => {
    assert.match(toYaml({ y: "1", no: "2", ON: "3" }), /^"y": "1"\n"no": "2"\n"ON": "3"\n$/);
  });

  it("omits undefined fields, as Go's omitempty does", () => {
    assert.equal(toYaml({ a: "1", b: undefined, c: { d: undefined } }), 'a: "1"\nc: {}\n');
  });

  it("refuses what is not plain data, naming the field", () => {
    assert.throws(() => toYaml({ a: { b: null } }), /yaml: \$\.a\.b is null/);
    assert.throws(() => toYaml({ a: [1, Number.NaN] }), /yaml: \$\.a\[1\] is NaN/);
    assert.throws(() => toYaml({ f: () => 1 }), /yaml: \$\.f is function/);
    assert.throws(() => toYaml({ kind: "Two words" }), /yaml: \$\.kind is "Two words", not an identifier/);
  });

  it("writes several documents as one stream", () => {
    const docs = [{ kind: "A", x: "1" }, { kind: "B" }];
    const text = toYamlStream(docs);
    assert.equal(text, 'kind: A\nx: "1"\n---\nkind: B\n');
    assert.deepEqual(yaml.loadAll(text), docs);
  });
});
