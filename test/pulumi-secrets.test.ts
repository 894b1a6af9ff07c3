// Where secrets can leak from the bootstrap, checked on a fully resolved stack. The command
// provider quotes a failed command's text and everything it printed (stdout and stderr) in
// its error, and streams output to the log unless `logging` says otherwise; the engine
// masks only stack-config secrets. So no secret may be in any command's text, and what a
// command prints must hold secrets only sealed. The printing is checked by running the
// stack's own command text against stub tools (fakeNode.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfig } from "../components/config";
import { unseal } from "../components/seal";
import { FakeNode } from "./pulumi/fakeNode";
import {
  type Built,
  buildCluster,
  FAKE_ADMIN_CONF,
  FAKE_CA_HASH,
  FAKE_TOKEN,
  isSecretValue,
  type Recorded,
} from "./pulumi/harness";

const COMMAND = "command:remote:Command";
const CLIENT_KEY = /client-key-data: (\S+)/.exec(FAKE_ADMIN_CONF)![1];
const TOKEN_SECRET = FAKE_TOKEN.split(".")[1];

describe("pulumi secrets: command text", () => {
  let built: Built;
  before(async () => {
    built = await buildCluster(
      parseConfig((key) => (key === "adminCidrs" ? '["203.0.113.7/32"]' : key === "workerCount" ? "2" : undefined)),
    );
  });

  it("no command's create, update or delete holds the join token, a private key or the admin's client key", () => {
    const privateKeys = built
      .byType("tls:index/privateKey:PrivateKey")
      .flatMap((k) => [k.state.privateKeyPem, k.state.privateKeyOpenssh].filter(Boolean));
    const bodies = privateKeys.map((pem: string) => pem.split("\n")[1]);
    const commands = built.byType(COMMAND);
    assert.ok(commands.length >= 10);
    for (const cmd of commands) {
      for (const field of ["create", "update", "delete"] as const) {
        const text = cmd.inputs[field];
        if (text === undefined) continue;
        assert.equal(typeof text, "string", `${cmd.name}.${field} is resolved`);
        assert.ok(!text.includes(TOKEN_SECRET), `${cmd.name}.${field} holds the join token`);
        assert.ok(!/PRIVATE KEY/.test(text), `${cmd.name}.${field} holds a private key`);
        for (const body of bodies) assert.ok(!text.includes(body), `${cmd.name}.${field} holds a private key's body`);
        assert.ok(!text.includes(CLIENT_KEY), `${cmd.name}.${field} holds the admin client key`);
      }
    }
  });

  it("the token travels on the join's stdin, which errors do not quote, marked secret", () => {
    for (const worker of ["worker-1", "worker-2"]) {
      const join = built.one(COMMAND, `podnet-join-${worker}`);
      assert.ok(isSecretValue((join.rawInputs as any).stdin), `${join.name} stdin is secret`);
      assert.match(join.inputs.stdin, new RegExp(`token: "${FAKE_TOKEN}"`));
      assert.ok(!isSecretValue((join.rawInputs as any).create), "the script itself is readable in a preview diff");
    }
  });
});

describe("pulumi secrets: logged output", () => {
  let built: Built;
  let node: FakeNode;
  const sealKey = () => built.one("tls:index/privateKey:PrivateKey", "podnet-seal").state.privateKeyPem as string;
  const command = (name: string): Recorded => built.one(COMMAND, `podnet-${name}`);
  before(async () => {
    built = await buildCluster(
      parseConfig((key) => (key === "adminCidrs" ? '["203.0.113.7/32"]' : key === "workerCount" ? "1" : undefined)),
    );
  });
  beforeEach(() => {
    node = new FakeNode();
  });
  afterEach(() => node.cleanup());

  it("the commands that return secrets log stderr only and keep stdout secret in the state", () => {
    for (const name of ["kubeconfig", "join-token-worker-1"]) {
      assert.equal(command(name).inputs.logging, "stderr", `${name}: stdout is not streamed to the log`);
      assert.ok(command(name).additionalSecretOutputs.includes("stdout"), `${name}: stdout is secret`);
    }
  });

  it("the join line leaves the control plane sealed: nothing printed holds the token", () => {
    const joinLine = `kubeadm join 10.0.1.10:6443 --token ${FAKE_TOKEN} --discovery-token-ca-cert-hash ${FAKE_CA_HASH}`;
    const ran = node.run(command("join-token-worker-1").inputs.create, { env: { PODNET_FAKE_JOIN_LINE: joinLine } });
    assert.equal(ran.status, 0, ran.stderr);
    assert.ok(!`${ran.stdout}${ran.stderr}`.includes(TOKEN_SECRET), "the token is printed in clear");
    assert.equal(unseal(ran.stdout, sealKey()).trim(), joinLine);
  });

  it("admin.conf leaves the control plane sealed: nothing printed holds the client key", () => {
    const adminConf = node.file("/etc/kubernetes/admin.conf");
    fs.mkdirSync(path.dirname(adminConf), { recursive: true });
    fs.writeFileSync(adminConf, FAKE_ADMIN_CONF);
    const ran = node.run(command("kubeconfig").inputs.create);
    assert.equal(ran.status, 0, ran.stderr);
    assert.ok(!`${ran.stdout}${ran.stderr}`.includes(CLIENT_KEY), "the client key is printed in clear");
    assert.equal(unseal(ran.stdout, sealKey()), FAKE_ADMIN_CONF);
  });

  it("the worker reads its join configuration from stdin and prints nothing of it", () => {
    const join = command("join-worker-1");
    const ran = node.run(join.inputs.create, { stdin: join.inputs.stdin });
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(node.read("join-config"), join.inputs.stdin, "kubeadm join got the config byte for byte");
    assert.ok(!`${ran.stdout}${ran.stderr}`.includes(TOKEN_SECRET));
    assert.ok(!fs.existsSync(node.file("/etc/kubernetes/podnet/kubeadm-join.yaml")), "the token file is removed");
    const empty = node.run(join.inputs.create, { stdin: "" });
    assert.notEqual(empty.status, 0);
    assert.match(empty.stderr, /no JoinConfiguration on stdin/);
  });
});
