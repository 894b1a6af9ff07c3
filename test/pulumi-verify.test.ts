// The connectivity check that ends `pulumi up` (components/verify.ts), under mocks: where it
// runs, what it waits for, when it runs again, that its command text holds no secret, and
// the `connectivity` output it leaves.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type ClusterConfig, type ConfigKey, parseConfig } from "../components/config";
import { offOutput, parseConnectivity } from "../components/verify";
import { bundleDigest, verifierBundle } from "../verify/remote";
import { type Built, buildCluster, containsSecret, FAKE_CONNECTIVITY, FAKE_TOKEN, outputValue } from "./pulumi/harness";

const COMMAND = "command:remote:Command";
const INSTANCE = "aws:ec2/instance:Instance";

function configWith(values: Partial<Record<ConfigKey, string>> = {}): ClusterConfig {
  return parseConfig((key) => (key === "adminCidrs" ? '["203.0.113.7/32"]' : values[key]));
}

describe("pulumi stack: the connectivity check", () => {
  let built: Built;
  const verify = () => built.one(COMMAND, "podnet-verify");

  before(async () => {
    built = await buildCluster(configWith({ workerCount: "2" }));
  });

  it("runs on the control plane over the bootstrap's SSH connection", () => {
    const eip = built.byType("aws:ec2/eip:Eip")[0]!;
    const { connection } = verify().inputs;
    const init = built.one(COMMAND, "podnet-init").inputs.connection;
    assert.deepEqual(connection, init, "the same connection as kubeadm init");
    assert.equal(connection.host, eip.state.publicIp);
    assert.match(
      verify().inputs.create,
      /sudo node "\$dir\/verify\.js" --kubeconfig \/etc\/kubernetes\/admin\.conf --mode fail /,
    );
    assert.equal(verify().inputs.stdin, verifierBundle(), "the verifier arrives on stdin");
    assert.equal(verify().inputs.logging, "stderr", "stdout (the report) is not streamed to the log");
  });

  it("depends on kubeadm init and every worker's registration (joined and Ready)", () => {
    const deps = verify().dependencies;
    for (const name of ["init", "register-worker-1", "register-worker-2"]) {
      assert.ok(deps.includes(built.urnOf(COMMAND, `podnet-${name}`)), `waits for ${name}`);
    }
  });

  it("re-runs when the node set changes: every instance is a trigger, the public IPs are the expectation", async () => {
    const instances = built.byType(INSTANCE).map((i) => `i-${i.name}`);
    assert.deepEqual([...verify().inputs.triggers].sort(), instances.sort());
    for (const n of await outputValue(built.cluster.nodeTable)) {
      assert.ok(
        verify().inputs.create.includes(` --public-ip ${n.name}=${n.publicIp}`),
        `${n.name}'s public IP (the EIP for the control plane)`,
      );
    }

    const three = await buildCluster(configWith({ workerCount: "3" }));
    const after = three.one(COMMAND, "podnet-verify");
    assert.notDeepEqual(
      after.inputs.triggers,
      verify().inputs.triggers,
      "a new worker changes the triggers (replace: the check runs again)",
    );
    assert.ok(after.inputs.triggers.includes("i-podnet-worker-3"));
    assert.ok(
      after.dependencies.includes(three.urnOf(COMMAND, "podnet-register-worker-3")),
      "and it waits for the new worker",
    );
  });

  it("keeps every secret out of its command text and stdin", () => {
    const raw = verify().rawInputs as Record<string, unknown>;
    assert.equal(containsSecret(raw.create), false, "create is not secret: nothing secret is in it");
    assert.equal(containsSecret(raw.stdin), false);
    assert.equal(containsSecret(raw.connection), true, "the SSH key stays secret in the connection");
    const key = built.one("tls:index/privateKey:PrivateKey", "podnet-ssh").state.privateKeyPem as string;
    for (const text of [verify().inputs.create, verify().inputs.stdin] as string[]) {
      assert.ok(!text.includes("PRIVATE KEY") && !text.includes(key.split("\n")[1]!), "no private key");
      assert.ok(!text.includes(FAKE_TOKEN), "no join token");
    }
    // The provider quotes the whole command text when it fails: it must stay short.
    assert.ok(verify().inputs.create.length < 1024, `command text is ${verify().inputs.create.length} bytes`);
  });

  it("sends the same bundle whatever the working directory (no spurious re-run)", () => {
    // A fresh process elsewhere: esbuild names each module by its path from the working directory.
    const loader = join(__dirname, "..", "node_modules", "tsx", "dist", "loader.mjs");
    const code = `const r = require(${JSON.stringify(join(__dirname, "..", "verify", "remote.ts"))}); process.stdout.write(r.bundleDigest(r.buildVerifierBundle()));`;
    const elsewhere = spawnSync(process.execPath, ["--import", loader, "-e", code], {
      cwd: tmpdir(),
      encoding: "utf8",
    });
    assert.equal(elsewhere.status, 0, elsewhere.stderr);
    assert.equal(elsewhere.stdout, bundleDigest(verifierBundle()));
    assert.match(verifierBundle(), /^\/\/ verify\/node\.ts$/m, "paths relative to the repository");
  });

  it("is a POSIX sh command (sh -n) that shellcheck accepts", function () {
    const sh = spawnSync("sh", ["-n"], { input: verify().inputs.create, encoding: "utf8" });
    assert.equal(sh.status, 0, sh.stderr);
    const check = spawnSync("shellcheck", ["--shell=sh", "-"], { input: verify().inputs.create, encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  it("exports connectivity: the verifier's report, with the mode it ran in", async () => {
    assert.deepEqual(await outputValue(built.cluster.connectivity), { ...FAKE_CONNECTIVITY, mode: "fail" });
    assert.equal(await pulumi.isSecret(built.cluster.connectivity), false);
  });

  it("podnet:verify=report passes --mode report; off runs nothing and says so", async () => {
    const report = await buildCluster(configWith({ verify: "report" }));
    assert.match(report.one(COMMAND, "podnet-verify").inputs.create, / --mode report /);
    const off = await buildCluster(configWith({ verify: "off" }));
    assert.equal(off.byType(COMMAND).filter((c) => c.name === "podnet-verify").length, 0);
    assert.deepEqual(await outputValue(off.cluster.connectivity), offOutput());
    assert.match(offOutput().summary, /podnet:verify is off/);
    assert.throws(
      () => configWith({ verify: "sometimes" }),
      /podnet:verify: "sometimes" must be fail .*\n\s+fix: pulumi config set podnet:verify report/,
    );
  });

  it("refuses a stdout that is not the verifier's report, instead of passing silently", () => {
    assert.throws(() => parseConnectivity("", "fail"), /printed no report/);
    assert.throws(() => parseConnectivity('{"ok":true}', "fail"), /no rows/);
    assert.equal(parseConnectivity(`progress\n${JSON.stringify(FAKE_CONNECTIVITY)}\n`, "report").mode, "report");
  });
});
