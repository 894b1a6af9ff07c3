// Settings a new user gets wrong, the way they set them (`pulumi config set ...`): each is
// refused with a message naming the key, and each suggested fix, applied as `pulumi config`
// would apply it, passes validation itself.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigProblem, qualifiedKey } from "../components/config";
import { AWS_REGIONS, resolveRegion } from "../components/configKeys";
import { KUBERNETES_MINORS } from "../components/image";
import { alternatives, applyFix, problemsOf, type StackValues, validate } from "./helpers/configFix";

const BASE: StackValues = { "podnet:adminCidrs": '["203.0.113.7/32"]' };

interface Case {
  readonly what: string;
  readonly values: StackValues;
  readonly env?: Record<string, string>;
  /** The key the refusal must name, and what it must say. */
  readonly key: string;
  readonly message: RegExp;
}

const cases: Case[] = [
  {
    what: "kubernetesVersion 1.99",
    values: { "podnet:kubernetesVersion": "1.99" },
    key: "kubernetesVersion",
    message: /1\.99 is outside .* 1\.32 to 1\.36/,
  },
  {
    what: "kubernetesVersion 1.37 (in no row of containerd's matrix yet)",
    values: { "podnet:kubernetesVersion": "1.37" },
    key: "kubernetesVersion",
    message: /1\.37 is outside .* 1\.32 to 1\.36/,
  },
  {
    what: "kubernetesVersion 1.31 (older than containerd 2's minors)",
    values: { "podnet:kubernetesVersion": "1.31" },
    key: "kubernetesVersion",
    message:
      /1\.31 is outside .* 1\.32 to 1\.36 \(the ones containerd's support matrix pairs with the image's containerd 2\)/,
  },
  {
    what: "aws:region xx-mars-1",
    values: { "aws:region": "xx-mars-1" },
    key: "aws:region",
    message: /"xx-mars-1" is not an AWS region/,
  },
  {
    what: "a misspelt aws:region",
    values: { "aws:region": "us-east1" },
    key: "aws:region",
    message: /"us-east1" is not an AWS region/,
  },
  {
    what: "podnet:region xx-mars-1",
    values: { "podnet:region": "xx-mars-1" },
    key: "region",
    message: /not an AWS region/,
  },
  {
    what: "AWS_REGION=xx-mars-1 in the environment",
    values: {},
    env: { AWS_REGION: "xx-mars-1" },
    key: "aws:region",
    message: /from the environment, AWS_REGION/,
  },
  {
    what: "podnet:region disagreeing with aws:region",
    values: { "aws:region": "eu-west-1", "podnet:region": "us-east-1" },
    key: "region",
    message: /is us-east-1 but aws:region is eu-west-1/,
  },
  {
    what: "a misspelt key (podnet:workercount)",
    values: { "podnet:workercount": "3" },
    key: "workercount",
    message: /did you mean podnet:workerCount\?/,
  },
  {
    what: "a key nothing reads",
    values: { "podnet:flavour": "vanilla" },
    key: "flavour",
    message: /is not a podnet setting/,
  },
  {
    what: "adminCidrs 0.0.0.0/1 + 128.0.0.0/1",
    values: { "podnet:adminCidrs": '["0.0.0.0/1","128.0.0.0/1"]' },
    key: "adminCidrs",
    message: /together reach every IPv4 address/,
  },
  {
    what: "adminCidrs of four /2s",
    values: { "podnet:adminCidrs": "0.0.0.0/2,64.0.0.0/2,128.0.0.0/2,192.0.0.0/2" },
    key: "adminCidrs",
    message: /together reach every IPv4 address/,
  },
  {
    what: "adminCidrs of half the internet",
    values: { "podnet:adminCidrs": '["203.0.113.7/32","128.0.0.0/1"]' },
    key: "adminCidrs",
    message: /2147483648 addresses, more than a \/8/,
  },
  {
    what: "a /7 in adminCidrs",
    values: { "podnet:adminCidrs": '["8.0.0.0/7"]' },
    key: "adminCidrs",
    message: /more than a \/8/,
  },
  {
    what: "0.0.0.0/0 in adminCidrs",
    values: { "podnet:adminCidrs": '["203.0.113.7/32","0.0.0.0/0"]' },
    key: "adminCidrs",
    message: /item 1: 0\.0\.0\.0\/0/,
  },
  {
    what: "adminCidrs that is not a list",
    values: { "podnet:adminCidrs": "[203.0.113.7/32" },
    key: "adminCidrs",
    message: /not a list of CIDRs/,
  },
  {
    what: "clusterCidr 10.0.0.0/8",
    values: { "podnet:clusterCidr": "10.0.0.0/8" },
    key: "serviceCidr",
    message: /overlaps clusterCidr 10\.0\.0\.0\/8/,
  },
  {
    what: "a Service network larger than a /12",
    values: { "podnet:serviceCidr": "172.0.0.0/11" },
    key: "serviceCidr",
    message: /a \/12 to \/28 Service network/,
  },
  {
    what: "a VPC larger than AWS allows",
    values: { "podnet:vpcCidr": "10.0.0.0/8" },
    key: "vpcCidr",
    message: /AWS VPCs are \/16 to \/28/,
  },
  {
    what: "a VPC that no longer holds the subnet",
    values: { "podnet:vpcCidr": "172.31.0.0/16" },
    key: "subnetCidr",
    message: /not inside vpcCidr 172\.31\.0\.0\/16/,
  },
  {
    what: "a VPC of the pod network's addresses",
    values: { "podnet:vpcCidr": "10.244.0.0/16" },
    key: "clusterCidr",
    message: /overlaps vpcCidr 10\.244\.0\.0\/16/,
  },
  {
    what: "more workers than the pod network holds",
    values: { "podnet:clusterCidr": "10.244.0.0/22", "podnet:workerCount": "10" },
    key: "workerCount",
    message: /11 nodes need 11 \/24 subnets/,
  },
  {
    what: "a node mask wider than the pod network",
    values: { "podnet:clusterCidr": "10.244.0.0/24", "podnet:nodeMaskSize": "20" },
    key: "nodeMaskSize",
    message: /wider than clusterCidr/,
  },
  {
    what: "a subnet too small for the nodes",
    values: { "podnet:subnetCidr": "10.0.1.0/28", "podnet:workerCount": "12" },
    key: "subnetCidr",
    message: /11 usable addresses for 13 nodes/,
  },
  {
    what: "more routes than the quota",
    values: { "podnet:workerCount": "49" },
    key: "workerCount",
    message: /routeTableQuota is 50/,
  },
  {
    what: "a CIDR with host bits",
    values: { "podnet:clusterCidr": "10.244.1.0/16" },
    key: "clusterCidr",
    message: /host bits set/,
  },
  { what: "a bad AMI id", values: { "podnet:amiId": "ubuntu" }, key: "amiId", message: /not an AMI id/ },
  {
    what: "a zone outside the region",
    values: { "aws:region": "eu-west-1", "podnet:availabilityZone": "us-east-1a" },
    key: "availabilityZone",
    message: /not a zone of region eu-west-1/,
  },
];

const keysOf = (problems: readonly ConfigProblem[]) => new Set(problems.map((p) => p.key));

describe("pulumi settings: refused, with fixes that work", () => {
  it("accepts the defaults", () => {
    assert.equal(validate(BASE).region, "us-east-1");
  });

  for (const c of cases) {
    const values = { ...BASE, ...c.values };
    it(`refuses ${c.what}, naming ${qualifiedKey(c.key)}, and every fix it suggests passes`, () => {
      const err = problemsOf(values, c.env);
      assert.ok(err, `accepted: ${JSON.stringify(values)}`);
      const named = err.problems.find((p) => p.key === c.key && c.message.test(p.message));
      assert.ok(named, `no ${c.key} problem matching ${c.message} in:\n${err.message}`);
      assert.ok(err.message.includes(`${qualifiedKey(c.key)}: ${named.message}`), err.message);

      for (const problem of err.problems) {
        for (const fix of alternatives(problem.fix)) {
          const after = problemsOf(applyFix(values, fix), c.env)?.problems ?? [];
          const same = after.find((p) => p.key === problem.key && p.message === problem.message);
          assert.equal(same, undefined, `fix \`${fix}\` leaves ${qualifiedKey(problem.key)}: ${problem.message}`);
          const fresh: ConfigProblem[] = after.filter((p) => !keysOf(err.problems).has(p.key));
          assert.deepEqual(fresh, [], `fix \`${fix}\` for ${qualifiedKey(problem.key)} brings new problems`);
        }
      }

      // Fixing one problem after another, as a user would, ends in a config that validates.
      let current: StackValues = values;
      for (let round = 0; round < 8; round++) {
        const left = problemsOf(current, c.env);
        if (!left) return;
        current = applyFix(current, alternatives(left.problems[0].fix)[0]);
      }
      assert.fail(`still refused after 8 rounds of fixes: ${problemsOf(current, c.env)?.message}`);
    });
  }

  it("moves a misspelt key's value under the right name without printing it", () => {
    const values = { ...BASE, "podnet:workercount": "3" };
    const [problem] = problemsOf(values)!.problems;
    assert.doesNotMatch(problem.fix, /\b3\b/, "the value stays out of the message (it may be a secret)");
    assert.equal(validate(applyFix(values, alternatives(problem.fix)[0])).workerCount, 3);
  });

  it("does not offer the overlapping default as the Service network for clusterCidr 10.0.0.0/8", () => {
    const err = problemsOf({ ...BASE, "podnet:clusterCidr": "10.0.0.0/8" })!;
    for (const p of err.problems.filter((p) => p.key === "serviceCidr")) assert.doesNotMatch(p.fix, /10\.96\.0\.0\/12/);
  });
});

describe("pulumi settings: the region", () => {
  it("is aws:region, else podnet:region, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1", () => {
    const env = { AWS_REGION: "eu-central-1", AWS_DEFAULT_REGION: "ap-south-1" };
    assert.deepEqual(resolveRegion({ awsRegion: "eu-west-1", podnetRegion: "eu-west-1", env }), {
      region: "eu-west-1",
      from: "aws:region",
    });
    assert.deepEqual(resolveRegion({ podnetRegion: "eu-west-2", env }), { region: "eu-west-2", from: "podnet:region" });
    assert.deepEqual(resolveRegion({ env }), { region: "eu-central-1", from: "AWS_REGION" });
    assert.deepEqual(resolveRegion({ env: { AWS_DEFAULT_REGION: "ap-south-1" } }), {
      region: "ap-south-1",
      from: "AWS_DEFAULT_REGION",
    });
    assert.deepEqual(resolveRegion({}), { region: "us-east-1", from: "default" });
  });

  it("takes aws:region over the environment, and podnet:region only when it agrees", () => {
    assert.equal(validate({ ...BASE, "aws:region": "eu-west-1" }, { AWS_REGION: "us-west-2" }).region, "eu-west-1");
    assert.equal(validate({ ...BASE, "aws:region": "eu-west-1", "podnet:region": "eu-west-1" }).region, "eu-west-1");
    assert.equal(validate(BASE, { AWS_DEFAULT_REGION: "ap-southeast-2" }).region, "ap-southeast-2");
  });

  it("knows the provider's regions, the new and the partitioned ones too", () => {
    for (const region of [
      "us-east-1",
      "eu-west-1",
      "ap-southeast-7",
      "mx-central-1",
      "us-gov-west-1",
      "cn-north-1",
      "eusc-de-east-1",
    ]) {
      assert.ok(AWS_REGIONS.includes(region), region);
      assert.equal(validate({ ...BASE, "aws:region": region }).region, region);
    }
  });
});

describe("pulumi settings: supported Kubernetes minors are one range", () => {
  const repo = join(__dirname, "..");
  const { lowest, highest } = KUBERNETES_MINORS;

  it("accepts exactly 1.32 to 1.36 in the stack", () => {
    for (let minor = 0; minor < 100; minor++) {
      const accepted = problemsOf({ ...BASE, "podnet:kubernetesVersion": `1.${minor}` }) === undefined;
      assert.equal(accepted, minor >= lowest && minor <= highest, `1.${minor}`);
    }
  });

  it("is the range packer/variables.pkr.hcl and 30-containerd.sh enforce", function () {
    this.timeout(60_000);
    const hcl = readFileSync(join(repo, "packer", "variables.pkr.hcl"), "utf8");
    const patterns = [...hcl.matchAll(/regex_replace\(var\.kubernetes_minor, "([^"]+)", ""\) == ""/g)].map(
      (m) => new RegExp(m[1].replace(/\\\\/g, "\\")),
    );
    assert.equal(patterns.length, 2, "the minor's form and its range");
    for (let minor = 0; minor < 100; minor++) {
      assert.equal(
        patterns.every((p) => p.test(`1.${minor}`)),
        minor >= lowest && minor <= highest,
        `packer pattern on 1.${minor}`,
      );
    }
    // The range is containerd 2's: the image must refuse containerd 1.x.
    const containerd = readFileSync(join(repo, "packer", "scripts", "30-containerd.sh"), "utf8");
    assert.match(
      containerd,
      /if \[\[ \$\{upstream%%\.\*\} -lt 2 \]\]; then/,
      "30-containerd.sh refuses containerd 1.x",
    );

    // packer 1.6.6 itself, offline: the variables beside an empty build of the null builder.
    const work = mkdtempSync(join(tmpdir(), "podnet-minors-"));
    try {
      copyFileSync(join(repo, "packer", "variables.pkr.hcl"), join(work, "variables.pkr.hcl"));
      writeFileSync(
        join(work, "build.pkr.hcl"),
        'source "null" "check" {\n  communicator = "none"\n}\n\nbuild {\n  sources = ["source.null.check"]\n}\n',
      );
      const env = { ...process.env, CHECKPOINT_DISABLE: "1", HOME: work, PACKER_CONFIG_DIR: work };
      for (const minor of [lowest - 1, lowest, highest, highest + 1]) {
        const r = spawnSync("packer", ["validate", "-var", `kubernetes_minor=1.${minor}`, work], {
          encoding: "utf8",
          env,
        });
        assert.equal(
          r.status === 0,
          minor >= lowest && minor <= highest,
          `packer validate 1.${minor}:\n${r.stdout}${r.stderr}`,
        );
        if (r.status !== 0) assert.match(r.stdout + r.stderr, /must be from 1\.32 to 1\.36/);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
