// index.ts itself, as `pulumi up` runs it: config read from the stack (podnet:*), the
// Cluster built from it, the outputs exported; a bad config stops it with the message
// `pulumi preview` shows.
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../components/config";
import { outputValue, startMocks } from "./pulumi/harness";

const PROGRAM = require.resolve("../index");

function runProgram(): Record<string, pulumi.Output<unknown>> {
  delete require.cache[PROGRAM];
  return require(PROGRAM);
}

describe("pulumi program (index.ts)", () => {
  afterEach(() => pulumi.runtime.setAllConfig({}));

  it("builds the cluster from the stack's podnet:* config and exports its outputs", async () => {
    const session = await startMocks();
    pulumi.runtime.setAllConfig({
      "podnet:adminCidrs": '["203.0.113.7/32"]',
      "podnet:workerCount": "1",
      "podnet:clusterCidr": "10.50.0.0/16",
    });
    const program = runProgram();
    assert.deepEqual(Object.keys(program).sort(), [
      "connectivity",
      "controlPlanePublicIp",
      "kubeconfig",
      "networkSettings",
      "nodes",
      "sshPrivateKey",
      "usage",
    ]);
    const nodes = (await outputValue(program.nodes)) as Array<{ name: string; podCidr: string }>;
    assert.deepEqual(
      nodes.map((n) => [n.name, n.podCidr]),
      [
        ["control-plane", "10.50.0.0/24"],
        ["worker-1", "10.50.1.0/24"],
      ],
    );
    assert.equal(await pulumi.isSecret(program.kubeconfig), true);
    assert.equal(await pulumi.isSecret(program.sshPrivateKey), true);
    await outputValue(program.kubeconfig);
    await session.settle();
    assert.equal(session.byType("aws:ec2/instance:Instance").length, 2);
    assert.equal(session.byType("podnet:aws:Cluster").length, 1);
  });

  it("stops before creating anything when the config is bad, naming the key and the fix", async () => {
    const session = await startMocks();
    pulumi.runtime.setAllConfig({ "podnet:workerCount": "3" });
    assert.throws(runProgram, (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /podnet:adminCidrs: is required/);
      assert.match(err.message, /fix: pulumi config set --path 'podnet:adminCidrs\[0\]' 203\.0\.113\.7\/32/);
      return true;
    });
    await session.settle();
    assert.equal(session.resources.length, 0);
  });
});

describe("pull-request workflow", () => {
  const yaml = require("js-yaml") as { load(text: string): any };
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const workflow = yaml.load(
    fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", "pull-request.yml"), "utf8"),
  );

  it("runs the project's CI entry point on pull requests", () => {
    assert.ok("pull_request" in workflow.on);
    const steps: any[] = workflow.jobs.test.steps;
    assert.ok(steps.some((s) => s.uses?.startsWith("actions/setup-node@") && String(s.with["node-version"]) === "20"));
    assert.ok(steps.some((s) => s.run === "sudo bash .ci/run"));
  });

  it("previews the stack after the tests, with OIDC AWS credentials, and comments the result", () => {
    const job = workflow.jobs.preview;
    assert.equal(job.needs, "test");
    assert.equal(job.permissions["id-token"], "write");
    assert.equal(job.permissions["pull-requests"], "write");
    const steps: any[] = job.steps;
    const aws = steps.findIndex((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    const pulumiStep = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.ok(aws >= 0 && pulumiStep > aws, "credentials before the preview");
    assert.match(steps[aws].with["role-to-assume"], /secrets\.AWS_ROLE_ARN/);
    const preview = steps[pulumiStep].with;
    assert.equal(preview.command, "preview");
    assert.equal(preview["comment-on-pr"], true);
    assert.match(preview["stack-name"], /STACK/);
    assert.match(preview["cloud-url"], /secrets\.PULUMI_BACKEND_URL/);
  });
});
