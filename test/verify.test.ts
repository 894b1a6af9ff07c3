// The real-cluster verification's pure parts: the manifests it applies, how it reads what
// agnhost, curl, dig and busybox print (recorded outputs in the formats of their sources:
// kubernetes test/images/agnhost/netexec, curl's error messages, bind-tools 9.18's dig,
// busybox ping), and the table it runs, which is the lab's.
import assert from "node:assert/strict";
import { CHECK_TABLE } from "../model/checkTable";
import {
  dialAnswer,
  parseClientIp,
  parseDial,
  parseDig,
  parseHostname,
  parsePing,
  parsePublicIp,
  splitBodies,
} from "../verify/agnhost";
import { notReadyReasons, parseNodes, parsePods } from "../verify/cluster";
import {
  AGNHOST_IMAGE,
  buildManifests,
  CONTROL_PLANE_TAINT,
  HOST_PORT,
  HTTP_PORT,
  NODE_HTTP_PORT,
  POD_LABEL,
  RUN_LABEL,
  renderManifests,
  UDP_PORT,
} from "../verify/manifests";
import { CLUSTER_TABLE, INTERNET_ROW, KUBERNETES_DNS_ROW } from "../verify/table";
import { answer, fakeState } from "./helpers/fakeCluster";

// js-yaml comes with @pulumi/pulumi (the config test reads Pulumi.yaml with it too).
const yaml = require("js-yaml") as { load(text: string): unknown };
const parseYaml = (text: string) => yaml.load(text);

const NODES = [
  { name: "control-plane", controlPlane: true },
  { name: "worker-1", controlPlane: false },
  { name: "worker-2", controlPlane: false },
];

describe("verify: manifests", () => {
  const m = buildManifests({ runId: "ab12cd", nodes: NODES });
  const doc = JSON.parse(renderManifests(m)) as { kind: string; items: any[] };
  const pods = doc.items.filter((i) => i.kind === "Pod");

  it("render one List that parses as JSON and as YAML: the namespace first, then the Services and pods", () => {
    assert.equal(doc.kind, "List");
    assert.deepEqual(parseYaml(renderManifests(m)), doc, "JSON is YAML: kubectl reads it either way");
    assert.deepEqual(
      doc.items.map((i) => i.kind),
      ["Namespace", "Service", "Service", ...pods.map(() => "Pod")],
    );
    assert.equal(doc.items[0].metadata.name, "podnet-verify-ab12cd");
    for (const item of doc.items.slice(1))
      assert.equal(item.metadata.namespace, "podnet-verify-ab12cd", item.metadata.name);
    for (const item of doc.items)
      assert.equal(item.metadata.labels[RUN_LABEL], "ab12cd", `${item.metadata.name} is labelled with the run`);
  });

  it("put a web pod on every node, control plane included (tolerating its taint), a shell pod on each worker, a host pod on every node", () => {
    const where = pods.map((p) => `${p.metadata.name}@${p.spec.nodeName}`);
    assert.deepEqual(where, [
      "web-control-plane@control-plane",
      "web-worker-1@worker-1",
      "web-worker-2@worker-2",
      "shell-worker-1@worker-1",
      "shell-worker-2@worker-2",
      "host-control-plane@control-plane",
      "host-worker-1@worker-1",
      "host-worker-2@worker-2",
    ]);
    for (const p of pods) {
      const tolerates = p.spec.tolerations.some(
        (t: any) => t.key === CONTROL_PLANE_TAINT && t.operator === "Exists" && t.effect === "NoSchedule",
      );
      assert.equal(
        tolerates,
        p.spec.nodeName === "control-plane",
        `${p.metadata.name} tolerates the control plane's taint only there`,
      );
      const c = p.spec.containers[0];
      assert.equal(c.image, AGNHOST_IMAGE);
      assert.equal(c.imagePullPolicy, "IfNotPresent", "the AMI's pre-pulled image, no registry on the critical path");
      assert.equal(c.args[0], "netexec");
      assert.equal(p.spec.automountServiceAccountToken, false);
    }
  });

  it("give each web pod a hostPort, run the host pods in the node's network namespace on their own port", () => {
    for (const p of pods) {
      const c = p.spec.containers[0];
      const role = p.metadata.name.split("-")[0];
      const http = c.ports.find((x: any) => x.name === "http");
      assert.equal(http.hostPort, role === "web" ? HOST_PORT : undefined, p.metadata.name);
      assert.equal(p.spec.hostNetwork, role === "host" ? true : undefined, p.metadata.name);
      assert.equal(http.containerPort, role === "host" ? NODE_HTTP_PORT : HTTP_PORT);
      assert.deepEqual(c.args.slice(1), [
        `--http-port=${http.containerPort}`,
        `--udp-port=${role === "host" ? -1 : UDP_PORT}`,
      ]);
      assert.equal(c.readinessProbe.httpGet.port, http.containerPort);
    }
    assert.notEqual(NODE_HTTP_PORT, HOST_PORT, "the host pods' port must not shadow the hostPort");
  });

  it("back the web (TCP) and echo (UDP) ClusterIP Services by exactly one pod: the first worker's web pod", () => {
    const services = doc.items.filter((i) => i.kind === "Service");
    assert.deepEqual(
      services.map((s) => [
        s.metadata.name,
        s.spec.type,
        s.spec.ports.map((p: any) => `${p.protocol}/${p.port}->${p.targetPort}`),
      ]),
      [
        ["web", "ClusterIP", ["TCP/80->8080"]],
        ["echo", "ClusterIP", ["UDP/8081->8081"]],
      ],
    );
    for (const s of services) {
      const selected = pods.filter((p) =>
        Object.entries(s.spec.selector).every(([k, v]) => p.metadata.labels[k] === v),
      );
      assert.deepEqual(
        selected.map((p) => p.metadata.name),
        ["web-worker-1"],
      );
    }
    assert.equal(m.servicePod, "web-worker-1");
    const alone = buildManifests({ runId: "x1", nodes: NODES.slice(0, 1) });
    assert.equal(alone.servicePod, "web-control-plane", "without workers the control plane's pod backs them");
    assert.equal(alone.pods.filter((p) => p.metadata.labels[POD_LABEL]!.startsWith("shell-")).length, 0);
  });

  it("refuse what would not make valid objects, naming the fix", () => {
    assert.throws(
      () => buildManifests({ runId: "Bad_Id", nodes: NODES }),
      /run id "Bad_Id" must be 1 to 12 lower-case letters and digits/,
    );
    assert.throws(() => buildManifests({ runId: "a", nodes: NODES.slice(1) }), /no control-plane node/);
    assert.throws(
      () => buildManifests({ runId: "a", nodes: [...NODES, { name: "Worker_3", controlPlane: false }] }),
      /node name Worker_3 does not make a valid pod name/,
    );
  });
});

describe("verify: reading agnhost's answers", () => {
  it("/hostname and /clientip through curl -w '\\n' (two bodies, one per line)", () => {
    const [hostname, clientip] = splitBodies("web-worker-2\n10.244.1.3:49152\n", 2);
    assert.equal(parseHostname(hostname!), "web-worker-2");
    assert.deepEqual(parseClientIp(clientip!), { ip: "10.244.1.3", port: 49152 });
    // curl stopped after the first URL (the second timed out): one body, not two.
    assert.throws(() => splitBodies("web-worker-2\n", 2), /expected 2 answers, got 1/);
    assert.throws(() => parseClientIp("[::ffff:10.244.1.3]:49152"), /not a client address/);
    assert.throws(() => parseClientIp("10.244.1.300:80"), /not a client address/);
    assert.throws(() => parseHostname("<html>502 Bad Gateway</html>"), /not a hostname/);
  });

  it("/dial: responses, errors (Go's JSON escapes '>' as \\u003e), and neither", () => {
    assert.equal(dialAnswer('{"responses":["web-worker-1"]}'), "web-worker-1");
    assert.equal(dialAnswer('{"responses":["10.244.2.3:41234"]}'), "10.244.2.3:41234");
    const timeout = String.raw`{"errors":["reading from udp connection failed. err:'read udp 10.244.2.3:41234-\u003e10.96.0.51:8081: i/o timeout'"]}`;
    assert.deepEqual(parseDial(timeout).responses, []);
    assert.throws(() => dialAnswer(timeout), /read udp 10\.244\.2\.3:41234->10\.96\.0\.51:8081: i\/o timeout/);
    assert.throws(() => dialAnswer("{}"), /neither responses nor errors/);
    assert.throws(() => parseDial("tries parameter is invalid."), /did not answer JSON/);
    assert.throws(() => parseDial('{"responses":[1]}'), /not a list of strings/);
  });

  it("dig +short: addresses (after any CNAME), empty for NXDOMAIN, ';;' lines are errors", () => {
    assert.deepEqual(parseDig("10.96.0.1\n").addresses, ["10.96.0.1"]);
    assert.deepEqual(parseDig("web.example.net.\n192.0.2.7\n192.0.2.8\n").addresses, ["192.0.2.7", "192.0.2.8"]);
    assert.throws(() => parseDig(""), /no answer \(NXDOMAIN or SERVFAIL\)/);
    assert.throws(
      () => parseDig(";; communications error to 10.96.0.10#53: timed out\n;; no servers could be reached\n"),
      /^Error: communications error to 10\.96\.0\.10#53: timed out$/,
    );
    assert.throws(() => parseDig(";; connection timed out; no servers could be reached\n"), /connection timed out/);
  });

  it("busybox ping: the statistics line, received or not", () => {
    const up =
      "PING 10.244.1.1 (10.244.1.1): 56 data bytes\n64 bytes from 10.244.1.1: seq=0 ttl=64 time=0.081 ms\n\n--- 10.244.1.1 ping statistics ---\n1 packets transmitted, 1 packets received, 0% packet loss\nround-trip min/avg/max = 0.081/0.081/0.081 ms\n";
    assert.deepEqual(parsePing(up), { transmitted: 1, received: 1 });
    const down =
      "PING 10.244.1.1 (10.244.1.1): 56 data bytes\n\n--- 10.244.1.1 ping statistics ---\n1 packets transmitted, 0 packets received, 100% packet loss\n";
    assert.deepEqual(parsePing(down), { transmitted: 1, received: 0 });
    assert.deepEqual(
      parsePing("1 packets transmitted, 1 received, 0% packet loss, time 0ms"),
      { transmitted: 1, received: 1 },
      "iputils too",
    );
    assert.throws(() => parsePing("ping: permission denied (are you root?)"), /no ping statistics/);
  });

  it("checkip.amazonaws.com: one IPv4 address", () => {
    assert.equal(parsePublicIp("198.51.100.11\n"), "198.51.100.11");
    assert.throws(() => parsePublicIp("<html><body>Forbidden</body></html>"), /not an IPv4 address/);
  });

  it("kubectl get nodes / pods / events -o json", () => {
    const state = fakeState(2);
    const nodes = parseNodes(answer(state, ["get", "nodes", "-o", "json"]).stdout);
    assert.deepEqual(
      nodes.map((n) => [n.name, n.controlPlane, n.ip, n.podCidr, n.gateway, n.ready]),
      [
        ["control-plane", true, "10.0.1.10", "10.244.0.0/24", "10.244.0.1", true],
        ["worker-1", false, "10.0.1.11", "10.244.1.0/24", "10.244.1.1", true],
        ["worker-2", false, "10.0.1.12", "10.244.2.0/24", "10.244.2.1", true],
      ],
    );
    const noCidr = JSON.stringify({
      items: [
        {
          metadata: { name: "worker-9" },
          spec: {},
          status: { addresses: [{ type: "InternalIP", address: "10.0.1.99" }] },
        },
      ],
    });
    assert.throws(
      () => parseNodes(noCidr),
      /Node worker-9 has no spec.podCIDR: the stack sets it when the node registers/,
    );

    const broken = fakeState(1, ["sandbox"]);
    answer(broken, ["apply", "-f", "-"], renderManifests(buildManifests({ runId: "r1", nodes: NODES.slice(0, 2) })));
    const podsJson = answer(broken, ["get", "pods", "-n", "podnet-verify-r1", "-o", "json"]).stdout;
    assert.equal(parsePods(podsJson).get("host-worker-1")?.ip, "10.0.1.11");
    const reasons = notReadyReasons(
      podsJson,
      answer(broken, ["get", "events", "-n", "podnet-verify-r1", "-o", "json"]).stdout,
    );
    assert.equal(reasons.length, 3);
    assert.match(
      reasons[0]!,
      /^web-control-plane on control-plane: FailedCreatePodSandBox: .*plugin type="podnet" failed \(add\)/,
    );
  });
});

describe("verify: the table is the lab's", () => {
  it("runs every row of model/checkTable.ts, the internet row with AWS's expectation, plus the cluster's own DNS row", () => {
    assert.deepEqual(
      CLUSTER_TABLE.slice(0, CHECK_TABLE.length).map((s) => s.group),
      CHECK_TABLE.map((s) => s.group),
    );
    for (const [i, spec] of CHECK_TABLE.entries()) {
      if (spec.group === INTERNET_ROW) assert.notEqual(CLUSTER_TABLE[i], spec);
      else assert.equal(CLUSTER_TABLE[i], spec, `${spec.group} is the lab's own row`);
    }
    assert.deepEqual(
      CLUSTER_TABLE.slice(CHECK_TABLE.length).map((s) => s.group),
      [KUBERNETES_DNS_ROW],
    );
  });
});
