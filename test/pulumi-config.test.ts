// The stack's settings: defaults (the same in Pulumi.yaml and in code), and every bad or
// contradictory setting refused with a message that names the key and the fix.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_DEFAULTS, CONFIG_KEYS, ConfigError, type ConfigKey, parseConfig } from "../components/config";
import { DEFAULT_KUBERNETES_MINOR } from "../components/image";

const yaml = require("js-yaml") as { load(text: string): unknown };
const ADMIN = '["203.0.113.7/32"]';

function source(values: Partial<Record<ConfigKey, string>>) {
  return (key: ConfigKey) => (key === "adminCidrs" && !("adminCidrs" in values) ? ADMIN : values[key]);
}

/** The ConfigError a config gets, or fails the test. */
function refusal(values: Partial<Record<ConfigKey, string>>): ConfigError {
  try {
    parseConfig(source(values));
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`config ${JSON.stringify(values)} was accepted`);
}

describe("pulumi config", () => {
  it("defaults to the labs' cluster: one control plane, two workers, 10.244.0.0/16 in /24s", () => {
    const config = parseConfig(source({}));
    assert.equal(config.workerCount, 2);
    assert.equal(config.clusterCidr, "10.244.0.0/16");
    assert.equal(config.nodeMaskSize, 24);
    assert.equal(config.serviceCidr, "10.96.0.0/12");
    assert.equal(config.vpcCidr, "10.0.0.0/16");
    assert.equal(config.subnetCidr, "10.0.1.0/24");
    assert.equal(config.kubernetesVersion, DEFAULT_KUBERNETES_MINOR);
    assert.equal(config.routeTableQuota, 50);
    assert.equal(config.amiId, undefined);
    assert.equal(config.availabilityZone, undefined);
    assert.deepEqual(config.adminCidrs, ["203.0.113.7/32"]);
  });

  it("declares in Pulumi.yaml every key the code reads, with the same defaults and types", () => {
    const project = yaml.load(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as any;
    assert.equal(project.name, "podnet");
    assert.equal(project.runtime.name, "nodejs");
    assert.equal(project.runtime.options.typescript, false);
    assert.match(project.runtime.options.nodeargs, /--import tsx/);
    const declared = project.config as Record<string, { type: string; default?: unknown; items?: { type: string } }>;
    assert.deepEqual(Object.keys(declared).sort(), [...CONFIG_KEYS].sort());
    for (const [key, value] of Object.entries(CONFIG_DEFAULTS)) {
      const entry = declared[key];
      assert.equal(entry.type, typeof value === "number" ? "integer" : "string", key);
      assert.equal(String(entry.default), String(value), `${key} default`);
    }
    assert.equal(declared.adminCidrs.type, "array");
    assert.equal(declared.adminCidrs.items?.type, "string");
    assert.equal("default" in declared.adminCidrs, false, "adminCidrs must have no default");
    assert.equal("default" in declared.region, false, "podnet:region must have no default: unset, aws:region decides");
  });

  it("reads adminCidrs as a --path list or a comma-separated string, canonicalised", () => {
    assert.deepEqual(parseConfig(source({ adminCidrs: '["198.51.100.0/24","203.0.113.7/32"]' })).adminCidrs, [
      "198.51.100.0/24",
      "203.0.113.7/32",
    ]);
    assert.deepEqual(parseConfig(source({ adminCidrs: "198.51.100.0/24, 203.0.113.7/32" })).adminCidrs, [
      "198.51.100.0/24",
      "203.0.113.7/32",
    ]);
  });

  it("reads numbers and optional ids", () => {
    const config = parseConfig(
      source({ workerCount: "5", amiId: "ami-0123456789abcdef0", availabilityZone: "us-east-1c" }),
    );
    assert.equal(config.workerCount, 5);
    assert.equal(config.amiId, "ami-0123456789abcdef0");
    assert.equal(config.availabilityZone, "us-east-1c");
  });

  // Each bad setting: the key it must name and a fragment of the fix it must show.
  const cases: Array<[string, Partial<Record<ConfigKey, string>>, ConfigKey, RegExp, RegExp]> = [
    [
      "a missing adminCidrs",
      { adminCidrs: undefined },
      "adminCidrs",
      /is required/,
      /pulumi config set --path 'podnet:adminCidrs\[0\]' 203\.0\.113\.7\/32/,
    ],
    ["an empty adminCidrs list", { adminCidrs: "[]" }, "adminCidrs", /is required/, /--path 'podnet:adminCidrs\[0\]'/],
    [
      "0.0.0.0/0 in adminCidrs",
      { adminCidrs: '["203.0.113.7/32","0.0.0.0/0"]' },
      "adminCidrs",
      /item 1: 0\.0\.0\.0\/0 would open SSH/,
      /--path 'podnet:adminCidrs\[1\]'/,
    ],
    [
      "a non-CIDR admin address",
      { adminCidrs: '["203.0.113.7"]' },
      "adminCidrs",
      /item 0: "203\.0\.113\.7" is not a CIDR/,
      /adminCidrs\[0\]/,
    ],
    [
      "a pod CIDR overlapping the VPC",
      { clusterCidr: "10.0.0.0/16" },
      "clusterCidr",
      /overlaps vpcCidr 10\.0\.0\.0\/16/,
      /pulumi config set podnet:clusterCidr 10\.244\.0\.0\/16/,
    ],
    [
      "a service CIDR overlapping the pod CIDR",
      { serviceCidr: "10.244.128.0/20" },
      "serviceCidr",
      /overlaps clusterCidr 10\.244\.0\.0\/16/,
      /pulumi config set podnet:serviceCidr 10\.96\.0\.0\/12/,
    ],
    [
      "a service CIDR overlapping the VPC",
      { serviceCidr: "10.0.0.0/12" },
      "serviceCidr",
      /overlaps vpcCidr/,
      /podnet:serviceCidr/,
    ],
    [
      "a subnet outside the VPC",
      { subnetCidr: "192.168.1.0/24" },
      "subnetCidr",
      /not inside vpcCidr 10\.0\.0\.0\/16/,
      /pulumi config set podnet:subnetCidr 10\.0\.0\.0\/24/,
    ],
    [
      "a CIDR with host bits",
      { clusterCidr: "10.244.1.0/16" },
      "clusterCidr",
      /host bits set; the network is 10\.244\.0\.0\/16/,
      /podnet:clusterCidr/,
    ],
    [
      "more nodes than the cluster CIDR holds",
      { clusterCidr: "10.244.0.0/22", workerCount: "4" },
      "workerCount",
      /5 nodes need 5 \/24 subnets but clusterCidr 10\.244\.0\.0\/22 holds 4/,
      /pulumi config set podnet:workerCount 3 .*podnet:nodeMaskSize 25/,
    ],
    [
      "a node mask wider than the cluster CIDR",
      { clusterCidr: "10.244.0.0/24", nodeMaskSize: "20" },
      "nodeMaskSize",
      /wider than clusterCidr/,
      /podnet:nodeMaskSize/,
    ],
    [
      "more node routes than the route table quota",
      { workerCount: "49" },
      "workerCount",
      /50 nodes need 50 pod routes plus the default route \(51\) but routeTableQuota is 50/,
      /pulumi config set podnet:workerCount 48 .*pulumi config set podnet:routeTableQuota 51/,
    ],
    [
      "a lowered route table quota",
      { routeTableQuota: "3" },
      "workerCount",
      /routeTableQuota is 3/,
      /podnet:workerCount 1/,
    ],
    [
      "a fractional worker count",
      { workerCount: "2.5" },
      "workerCount",
      /"2\.5" must be a whole number/,
      /pulumi config set podnet:workerCount 2/,
    ],
    ["a negative worker count", { workerCount: "-1" }, "workerCount", /whole number from 0/, /podnet:workerCount/],
    [
      "a subnet too small for the nodes",
      { subnetCidr: "10.0.1.0/28", workerCount: "12" },
      "subnetCidr",
      /11 usable addresses for 13 nodes/,
      /podnet:subnetCidr/,
    ],
    [
      "a patch version",
      { kubernetesVersion: "1.35.2" },
      "kubernetesVersion",
      /must be a Kubernetes minor/,
      /pulumi config set podnet:kubernetesVersion 1\.35/,
    ],
    ["a bad AMI id", { amiId: "ubuntu" }, "amiId", /not an AMI id/, /pulumi config rm podnet:amiId/],
    ["a bad architecture", { imageArch: "amd64" }, "imageArch", /x86_64 or arm64/, /podnet:imageArch x86_64/],
    [
      "a bad instance type",
      { workerInstanceType: "small" },
      "workerInstanceType",
      /not an EC2 instance type/,
      /podnet:workerInstanceType t3\.small/,
    ],
    [
      "a zone outside the region",
      { region: "eu-west-1", availabilityZone: "us-east-1a" },
      "availabilityZone",
      /not a zone of region eu-west-1/,
      /podnet:availabilityZone eu-west-1a/,
    ],
    ["a bad region", { region: "mars" }, "region", /not an AWS region/, /podnet:region us-east-1/],
    ["a bad AMI owner", { amiOwner: "me" }, "amiOwner", /"self" or a 12-digit/, /podnet:amiOwner self/],
  ];
  for (const [what, values, key, message, fix] of cases) {
    it(`refuses ${what}, naming podnet:${key} and the fix`, () => {
      const err = refusal(values);
      const problem = err.problems.find((p) => p.key === key && message.test(p.message));
      assert.ok(problem, `no ${key} problem matching ${message} in:\n${err.message}`);
      assert.match(problem.fix, fix);
      // The thrown message (what `pulumi preview` prints) carries the key, reason and fix.
      assert.ok(err.message.includes(`podnet:${key}: ${problem.message}`));
      assert.ok(err.message.includes(`fix: ${problem.fix}`));
    });
  }

  it("reports every problem at once", () => {
    const err = refusal({ adminCidrs: undefined, clusterCidr: "10.0.0.0/16", kubernetesVersion: "latest" });
    assert.deepEqual(err.problems.map((p) => p.key).sort(), ["adminCidrs", "clusterCidr", "kubernetesVersion"]);
    assert.match(err.message, /^podnet: 3 configuration problems:/);
  });

  it("accepts a cluster that fills the route table exactly (node routes + the default route == quota)", () => {
    assert.equal(parseConfig(source({ workerCount: "47", routeTableQuota: "49" })).workerCount, 47);
    assert.equal(parseConfig(source({ workerCount: "49", routeTableQuota: "51" })).workerCount, 49);
  });
});
