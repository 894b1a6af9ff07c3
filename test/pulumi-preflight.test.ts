// What the stack checks against the account and its own last update before it changes
// anything, under pulumi.runtime.setMocks: network settings a running cluster cannot change
// (read back through a StackReference to itself), instance types that cannot boot the
// image's architecture, and an account with no podnet image yet.
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { type ClusterConfig, ConfigError } from "../components/config";
import {
  architectureProblems,
  counterpartType,
  FIXED_SETTINGS,
  FIXED_SETTINGS_OUTPUT,
  fixedSettingProblems,
} from "../components/preflight";
import { alternatives, applyFix, type StackValues, validate } from "./helpers/configFix";
import {
  type Built,
  buildCluster,
  type MockOptions,
  mockArchitectures,
  outputValue,
  startMocks,
} from "./pulumi/harness";

// No workers unless a test needs them: the checks are the same, the builds quicker.
const BASE: StackValues = { "podnet:adminCidrs": '["203.0.113.7/32"]', "podnet:workerCount": "0" };
const INSTANCE = "aws:ec2/instance:Instance";

/** The refusal an Output carries, or fails the test. */
async function refusal(output: pulumi.Output<unknown>): Promise<ConfigError> {
  try {
    await outputValue(output);
  } catch (err) {
    // The SDK prefixes "error serializing property ..." for each resource that waited on it.
    const found = err instanceof ConfigError ? err : undefined;
    assert.ok(found, `expected a ConfigError, got ${String(err)}`);
    return found;
  }
  assert.fail("the stack was not refused");
}

/** The ConfigError's own text, without the SDK's prefixes. */
function problemText(err: ConfigError): string {
  return err.message.slice(err.message.indexOf("podnet: "));
}

const complete = (built: Built) => built.byType(INSTANCE).length === built.cluster.plan.length;

describe("pulumi preflight: network settings that cannot change under running pods", () => {
  const config = validate(BASE);
  const deployed = {
    vpcCidr: "10.0.0.0/16",
    subnetCidr: "10.0.1.0/24",
    clusterCidr: "10.244.0.0/16",
    nodeMaskSize: 24,
    serviceCidr: "10.96.0.0/12",
  };

  it("records them as a stack output and passes on a first run, when the stack has no outputs", async () => {
    const built = await buildCluster(config, { previousOutputs: {} });
    assert.deepEqual(await outputValue(built.cluster.networkSettings), deployed);
    assert.ok(complete(built));
  });

  it("passes a re-run with the same settings, and with outputs from before they were recorded", async () => {
    assert.ok(complete(await buildCluster(config, { previousOutputs: { [FIXED_SETTINGS_OUTPUT]: deployed } })));
    assert.ok(complete(await buildCluster(config, { previousOutputs: { usage: "..." } })));
  });

  for (const [key, value] of [
    ["clusterCidr", "10.50.0.0/16"],
    ["nodeMaskSize", "25"],
    ["serviceCidr", "10.112.0.0/12"],
    ["vpcCidr", "10.1.0.0/16"],
    ["subnetCidr", "10.0.2.0/24"],
  ] as const) {
    for (const preview of key === "clusterCidr" ? [true, false] : [true]) {
      it(`refuses a changed ${key} at ${preview ? "preview" : "up"}, naming it and the ways out, before any AWS resource`, async () => {
        const values = {
          ...BASE,
          [`podnet:${key}`]: value,
          ...(key === "vpcCidr" ? { "podnet:subnetCidr": "10.1.1.0/24" } : {}),
        };
        const options: MockOptions = { preview, previousOutputs: { [FIXED_SETTINGS_OUTPUT]: deployed } };
        const built = await buildCluster(validate(values), options);
        const err = await refusal(built.cluster.networkSettings);
        const problem = err.problems.find((p) => p.key === key);
        assert.ok(problem, problemText(err));
        assert.match(
          problem.message,
          new RegExp(`deployed with ${String(deployed[key])}, the config now says ${value}`),
        );
        assert.match(problem.fix, /pulumi destroy, then pulumi up/);
        assert.match(problem.fix, /pulumi stack init/);
        assert.deepEqual(
          built.resources.map((r) => r.type),
          ["podnet:aws:Cluster"],
          "nothing but the component: not even the AWS provider",
        );

        // The first fixes (keep the deployed values) pass; so does a destroyed stack (no outputs).
        const kept = validate(err.problems.reduce((v, p) => applyFix(v, alternatives(p.fix)[0]), values));
        assert.ok(complete(await buildCluster(kept, options)), "restoring the deployed value passes");
        assert.ok(
          complete(await buildCluster(validate(values), { preview, previousOutputs: {} })),
          "after pulumi destroy it passes",
        );
      });
    }
  }

  it("names every changed key at once", () => {
    const current = { ...deployed, clusterCidr: "10.50.0.0/16", serviceCidr: "10.112.0.0/12" };
    assert.deepEqual(
      fixedSettingProblems(deployed, current).map((p) => p.key),
      ["clusterCidr", "serviceCidr"],
    );
    assert.deepEqual(fixedSettingProblems(undefined, current), []);
    assert.deepEqual([...FIXED_SETTINGS].sort(), [
      "clusterCidr",
      "nodeMaskSize",
      "serviceCidr",
      "subnetCidr",
      "vpcCidr",
    ]);
  });

  it("reads the stack's own last outputs: index.ts exports them and the next run compares", async () => {
    const PROGRAM = require.resolve("../index");
    const run = async (options: MockOptions, config: Record<string, string>) => {
      const session = await startMocks(options);
      pulumi.runtime.setAllConfig(config);
      delete require.cache[PROGRAM];
      const program = require(PROGRAM) as Record<string, pulumi.Output<unknown>>;
      return { session, program };
    };
    try {
      const first = await run({}, { ...BASE, "podnet:workerCount": "1" });
      const recorded = await outputValue(first.program[FIXED_SETTINGS_OUTPUT]);
      await first.session.settle();
      const second = await run(
        { previousOutputs: { [FIXED_SETTINGS_OUTPUT]: recorded } },
        { ...BASE, "podnet:workerCount": "1", "podnet:clusterCidr": "10.50.0.0/16" },
      );
      const err = await refusal(second.program[FIXED_SETTINGS_OUTPUT]);
      assert.match(
        problemText(err),
        /podnet:clusterCidr: cannot change on a running cluster: this stack was deployed with 10\.244\.0\.0\/16/,
      );
      await second.session.settle();
    } finally {
      pulumi.runtime.setAllConfig({});
    }
  });
});

describe("pulumi preflight: instance types and the image's architecture", () => {
  it("refuses imageArch arm64 with the default t3 types, naming both keys, before any instance or subnet", async () => {
    const values = { ...BASE, "podnet:imageArch": "arm64" };
    const built = await buildCluster(validate(values));
    const err = await refusal(built.cluster.availabilityZone);
    assert.deepEqual(
      err.problems.map((p) => p.key),
      ["controlPlaneInstanceType", "workerInstanceType"],
    );
    assert.match(err.problems[0].message, /t3\.medium runs i386\/x86_64, not the arm64 image/);
    assert.equal(built.byType(INSTANCE).length, 0);
    assert.equal(built.byType("aws:ec2/subnet:Subnet").length, 0);
    const asked = built.calls
      .filter((c) => c.token === "aws:ec2/getInstanceType:getInstanceType")
      .map((c) => c.inputs.instanceType);
    assert.deepEqual(asked.sort(), ["t3.medium", "t3.small"]);

    // Each alternative of the fix builds the whole cluster.
    for (const fix of alternatives(err.problems[0].fix)) {
      const fixed: ClusterConfig = validate(applyFix(values, fix));
      assert.ok(complete(await buildCluster(fixed)), `after \`${fix}\``);
    }
    assert.match(
      err.problems[0].fix,
      /podnet:controlPlaneInstanceType t4g\.medium && pulumi config set podnet:workerInstanceType t4g\.small/,
    );
  });

  it("refuses Graviton types for an x86_64 image, and accepts arm64 with them", async () => {
    const values = {
      ...BASE,
      "podnet:controlPlaneInstanceType": "m7g.large",
      "podnet:workerInstanceType": "t4g.small",
    };
    const err = await refusal((await buildCluster(validate(values))).cluster.availabilityZone);
    assert.match(
      err.problems[0].fix,
      /podnet:controlPlaneInstanceType m7i\.large && pulumi config set podnet:workerInstanceType t3\.small/,
    );
    assert.ok(complete(await buildCluster(validate({ ...values, "podnet:imageArch": "arm64" }))));
  });

  it("offers a counterpart of the same kind and size, which runs the other architecture", () => {
    for (const [type, arch, expected] of [
      ["t3.medium", "arm64", "t4g.medium"],
      ["t3a.nano", "arm64", "t4g.nano"],
      ["c6i.4xlarge", "arm64", "c7g.4xlarge"],
      ["m7g.medium", "x86_64", "m7i.large"],
      ["g5.xlarge", "arm64", "t4g.xlarge"],
      ["t2.24xlarge", "arm64", "t4g.medium"],
    ] as const) {
      const counterpart = counterpartType(type, arch);
      assert.equal(counterpart, expected, type);
      assert.ok(mockArchitectures(counterpart).includes(arch), counterpart);
    }
    assert.deepEqual(
      architectureProblems("x86_64", [
        { key: "workerInstanceType", instanceType: "t3.small", supportedArchitectures: ["x86_64"] },
      ]),
      [],
    );
  });
});

describe("pulumi preflight: an account with no podnet image yet", () => {
  const noImages: MockOptions["invokes"] = { "aws:ec2/getAmiIds:getAmiIds": () => ({ id: "none", ids: [] }) };

  for (const preview of [true, false]) {
    it(`refuses at ${preview ? "preview" : "up"} with a message that says to run npm run image, not a bare lookup error`, async () => {
      const built = await buildCluster(validate({ ...BASE, "aws:region": "eu-west-1" }), {
        preview,
        invokes: noImages,
      });
      const err = await refusal(built.cluster.machines.amiId);
      const [problem] = err.problems;
      assert.equal(problem.key, "amiId");
      assert.match(
        problem.message,
        /no node image named podnet-node-k8s-1\.35-x86_64-\* \(owner self, x86_64\) in eu-west-1, the stack's region/,
      );
      assert.match(problem.fix, /^npm run image -- -var region=eu-west-1 -var kubernetes_minor=1\.35 -var arch=x86_64/);
      assert.match(problem.fix, /or {3}pulumi config set podnet:amiId/);
      assert.equal(built.byType(INSTANCE).length, 0, "no instance without an image");
    });
  }

  it("takes the newest image when there are several, and needs no lookup with podnet:amiId", async () => {
    const built = await buildCluster(validate(BASE));
    assert.equal(built.byType(INSTANCE)[0].inputs.ami, "ami-0fedcba9876543210");
    const explicit = await buildCluster(validate({ ...BASE, "podnet:amiId": "ami-0123456789abcdef0" }), {
      invokes: noImages,
    });
    assert.ok(complete(explicit));
  });
});

describe("pulumi preflight: the provider's region", () => {
  const PROGRAM = require.resolve("../index");
  const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
  afterEach(() => {
    pulumi.runtime.setAllConfig({});
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  async function providerRegion(
    config: Record<string, string>,
    env: Record<string, string | undefined>,
  ): Promise<string> {
    const session = await startMocks();
    pulumi.runtime.setAllConfig(config);
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    delete require.cache[PROGRAM];
    const program = require(PROGRAM) as Record<string, pulumi.Output<unknown>>;
    await outputValue(program.nodes);
    await session.settle();
    return session.byType("pulumi:providers:aws")[0].inputs.region;
  }

  it("is aws:region, as every Pulumi AWS program reads it", async () => {
    assert.equal(
      await providerRegion(
        { ...BASE, "aws:region": "eu-west-1" },
        { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
      ),
      "eu-west-1",
    );
  });

  it("is AWS_REGION (then AWS_DEFAULT_REGION) when the stack sets none", async () => {
    assert.equal(
      await providerRegion(BASE, { AWS_REGION: "ap-southeast-2", AWS_DEFAULT_REGION: "sa-east-1" }),
      "ap-southeast-2",
    );
    assert.equal(await providerRegion(BASE, { AWS_REGION: undefined, AWS_DEFAULT_REGION: "sa-east-1" }), "sa-east-1");
  });

  it("refuses a podnet:region that disagrees with aws:region, and a misspelt podnet: key, through readConfig", async () => {
    await startMocks();
    pulumi.runtime.setAllConfig({
      ...BASE,
      "aws:region": "eu-west-1",
      "podnet:region": "us-east-1",
      "podnet:workercount": "3",
    });
    delete require.cache[PROGRAM];
    assert.throws(
      () => require(PROGRAM),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /podnet:region: is us-east-1 but aws:region is eu-west-1/);
        assert.match(err.message, /podnet:workercount: is not a podnet setting; did you mean podnet:workerCount\?/);
        return true;
      },
    );
  });
});
