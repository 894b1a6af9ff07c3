// The IAM policies in iam/: each parses, and names exactly the actions the code calls. For
// the stack, the calls are derived from what the program registers under mocks (resource
// types and invokes) through iam/actions.ts; for the image, they are Packer's documented
// minimum, for a template that uses nothing needing more.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ConfigKey, parseConfig } from "../components/config";
import { INVOKE_ACTIONS, NO_AWS_CALLS, previewActions, RESOURCE_ACTIONS, upActions } from "../iam/actions";
import { buildCluster } from "./pulumi/harness";

const repo = join(__dirname, "..");

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: string;
}

/** A policy file's actions, after checking its shape: Allow statements of named actions on "*". */
function policyActions(file: string): string[] {
  const policy = JSON.parse(readFileSync(join(repo, "iam", file), "utf8")) as {
    Version: string;
    Statement: Statement[];
  };
  assert.equal(policy.Version, "2012-10-17", file);
  assert.ok(Array.isArray(policy.Statement) && policy.Statement.length > 0, file);
  const actions: string[] = [];
  for (const s of policy.Statement) {
    assert.equal(s.Effect, "Allow", `${file} ${s.Sid}`);
    assert.equal(s.Resource, "*", `${file} ${s.Sid}`);
    assert.ok(Array.isArray(s.Action) && s.Action.length > 0, `${file} ${s.Sid}`);
    for (const action of s.Action)
      assert.match(
        action,
        /^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/,
        `${file}: ${action} must be one named action, no wildcard`,
      );
    assert.deepEqual(s.Action, [...s.Action].sort(), `${file} ${s.Sid}: actions sorted`);
    actions.push(...s.Action);
  }
  assert.equal(new Set(actions).size, actions.length, `${file} names an action twice`);
  return actions.sort();
}

const diff = (have: string[], want: string[]) => ({
  extra: have.filter((a) => !want.includes(a)),
  missing: want.filter((a) => !have.includes(a)),
});

describe("IAM policies (iam/)", () => {
  let types: string[] = [];
  let invokes: string[] = [];

  before(async function () {
    // Every path through the program: image found by name or given, up and preview.
    const config = (values: Partial<Record<ConfigKey, string>>) =>
      parseConfig((key) => (key === "adminCidrs" ? '["203.0.113.7/32"]' : key === "workerCount" ? "1" : values[key]));
    const builds = [
      await buildCluster(config({})),
      await buildCluster(config({ amiId: "ami-0123456789abcdef0" })),
      await buildCluster(config({}), { preview: true }),
    ];
    types = [...new Set(builds.flatMap((b) => b.resources.map((r) => r.type)))].sort();
    invokes = [...new Set(builds.flatMap((b) => b.calls.map((c) => c.token)))].sort();
  });

  it("maps every resource type and invoke the stack registers to its AWS calls, and nothing it does not", () => {
    const aws = types.filter((t) => !NO_AWS_CALLS.some((re) => re.test(t)));
    assert.deepEqual(
      aws,
      Object.keys(RESOURCE_ACTIONS).sort(),
      "iam/actions.ts RESOURCE_ACTIONS must list exactly the AWS resource types the stack registers",
    );
    assert.deepEqual(
      invokes,
      Object.keys(INVOKE_ACTIONS).sort(),
      "iam/actions.ts INVOKE_ACTIONS must list exactly the invokes the stack makes",
    );
  });

  it("grants pulumi up/destroy exactly those calls (iam/pulumi-up.json)", () => {
    const want = upActions(types, invokes);
    assert.deepEqual(diff(policyActions("pulumi-up.json"), want), { extra: [], missing: [] });
    for (const action of ["ec2:RunInstances", "ec2:CreateRoute", "ec2:AllocateAddress", "ec2:DescribeImages"])
      assert.ok(want.includes(action), action);
  });

  it("grants pulumi preview (and preview --refresh) only reads (iam/pulumi-preview.json)", () => {
    const have = policyActions("pulumi-preview.json");
    assert.deepEqual(diff(have, previewActions(types, invokes)), { extra: [], missing: [] });
    for (const action of have) assert.match(action, /^[a-z0-9-]+:(Describe|Get|List)/, `${action} is not read-only`);
    for (const invoke of Object.values(INVOKE_ACTIONS).flat())
      assert.ok(have.includes(invoke), `preview runs the invoke needing ${invoke}`);
  });

  it("grants npm run image Packer's documented minimum, for a template that needs no more (iam/packer-image.json)", () => {
    // packer-plugin-amazon v1.3.9 (the pinned plugin) docs/README.md, "IAM Task or Instance Role": "the minimal set
    // permissions necessary for the Amazon plugin to work".
    const documented = [
      "AttachVolume",
      "AuthorizeSecurityGroupIngress",
      "CopyImage",
      "CreateImage",
      "CreateKeyPair",
      "CreateSecurityGroup",
      "CreateSnapshot",
      "CreateTags",
      "CreateVolume",
      "DeleteKeyPair",
      "DeleteSecurityGroup",
      "DeleteSnapshot",
      "DeleteVolume",
      "DeregisterImage",
      "DescribeImageAttribute",
      "DescribeImages",
      "DescribeInstances",
      "DescribeInstanceStatus",
      "DescribeRegions",
      "DescribeSecurityGroups",
      "DescribeSnapshots",
      "DescribeSubnets",
      "DescribeTags",
      "DescribeVolumes",
      "DetachVolume",
      "GetPasswordData",
      "ModifyImageAttribute",
      "ModifyInstanceAttribute",
      "ModifySnapshotAttribute",
      "RegisterImage",
      "RunInstances",
      "StopInstances",
      "TerminateInstances",
    ].map((a) => `ec2:${a}`);
    assert.deepEqual(diff(policyActions("packer-image.json"), documented.sort()), { extra: [], missing: [] });
    // The same page lists what some options add; the template uses none of them.
    const template = readFileSync(join(repo, "packer", "node.pkr.hcl"), "utf8").replace(/#.*$/gm, "");
    const needMore: Record<string, string> = {
      spot_price: "ec2:CreateLaunchTemplate, ec2:CreateFleet, ec2:DescribeSpotPriceHistory",
      spot_instance_types: "ec2:CreateLaunchTemplate, ec2:CreateFleet",
      vpc_filter: "ec2:DescribeVpcs",
      associate_public_ip_address: "ec2:DescribeVpcs, ec2:DescribeInstanceTypeOfferings",
      deprecate_at: "ec2:EnableImageDeprecation",
      session_manager: "ec2-instance-connect:SendSSHPublicKey, ssm",
      fast_launch: "ec2:EnableFastLaunch",
      iam_instance_profile: "iam:PassRole",
      temporary_iam_instance_profile_policy_document: "iam:CreateRole, iam:PassRole",
      kms_key_id: "kms:*",
    };
    for (const [option, actions] of Object.entries(needMore)) {
      assert.doesNotMatch(
        template,
        new RegExp(`\\b${option}\\b`),
        `node.pkr.hcl uses ${option}: add ${actions} to iam/packer-image.json`,
      );
    }
  });
});
