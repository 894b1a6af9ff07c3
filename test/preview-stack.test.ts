// The pull-request workflow on a new repository: `npm run preview-stack` creates the stack
// the workflow previews and leaves its settings to commit, run here against a stub pulumi;
// the workflow's own check points at it when the stack file is missing.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "./helpers/configFix";
import { output, Stubs } from "./helpers/stubs";

const repo = join(__dirname, "..");
// A stub CLI that does what the real one does to the working tree: stack init writes the stack file.
const PULUMI = `case "$1 $2" in
  "stack init") echo "encryptionsalt: v1:stub" >"Pulumi.$3.yaml" ;;
  "config set") echo "$*" >>"$(ls Pulumi.*.yaml | head -n 1)" ;;
esac`;

describe("preview stack (npm run preview-stack)", () => {
  let stubs: Stubs;
  let script: string;
  const env = {
    PULUMI_BACKEND_URL: "s3://podnet-state",
    PULUMI_CONFIG_PASSPHRASE: "correct horse",
    AWS_REGION: "",
    AWS_DEFAULT_REGION: "",
  };

  beforeEach(() => {
    stubs = new Stubs().add("pulumi", PULUMI);
    // The script works in the repository root, its parent directory: a scratch one here.
    mkdirSync(join(stubs.dir, "scripts"));
    script = join(stubs.dir, "scripts", "preview-stack.sh");
    copyFileSync(join(repo, "scripts", "preview-stack.sh"), script);
  });
  afterEach(() => stubs.cleanup());

  it("is the npm script the workflow names", () => {
    const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
    assert.equal(pkg.scripts["preview-stack"], "bash scripts/preview-stack.sh");
  });

  it("logs in, creates the stack with the passphrase provider, sets settings that validate, and says what to commit", () => {
    const r = stubs.bash([script, "--region", "eu-west-1"], env);
    assert.equal(r.status, 0, output(r));
    const calls = stubs.calls();
    assert.deepEqual(calls, [
      "pulumi login s3://podnet-state",
      "pulumi stack init ci --secrets-provider passphrase",
      "pulumi config set --stack ci aws:region eu-west-1",
      "pulumi config set --stack ci --path podnet:adminCidrs[0] 203.0.113.7/32",
    ]);
    assert.ok(existsSync(join(stubs.dir, "Pulumi.ci.yaml")));
    assert.match(r.stdout, /git add Pulumi\.ci\.yaml && git commit/);
    // What it set is a config the stack accepts.
    const config = validate({ "aws:region": "eu-west-1", "podnet:adminCidrs": '["203.0.113.7/32"]' });
    assert.equal(config.region, "eu-west-1");
  });

  it("takes another stack name and admin address, and the region from AWS_REGION", () => {
    const r = stubs.bash([script, "--stack", "preview", "--admin-cidr", "198.51.100.0/24"], {
      ...env,
      AWS_REGION: "ap-south-1",
    });
    assert.equal(r.status, 0, output(r));
    assert.ok(stubs.calls().includes("pulumi config set --stack preview aws:region ap-south-1"));
    assert.ok(stubs.calls().includes("pulumi config set --stack preview --path podnet:adminCidrs[0] 198.51.100.0/24"));
    assert.match(r.stdout, /PULUMI_STACK=preview/);
  });

  for (const missing of ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"]) {
    it(`refuses without ${missing}, naming it, before calling pulumi`, () => {
      const r = stubs.bash([script], { ...env, [missing]: "" });
      assert.equal(r.status, 1, output(r));
      assert.match(
        r.stderr,
        new RegExp(`${missing} is not set: export the .* the workflow uses \\(its secrets\\.${missing}\\)`),
      );
      assert.deepEqual(stubs.calls(), []);
    });
  }

  it("leaves an existing stack file alone", () => {
    writeFileSync(join(stubs.dir, "Pulumi.ci.yaml"), "config: {}\n");
    const r = stubs.bash([script], env);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Pulumi\.ci\.yaml exists already/);
    assert.deepEqual(stubs.calls(), []);
  });

  it("is what the workflow's check tells a new repository to run", () => {
    const workflow = readFileSync(join(repo, ".github", "workflows", "pull-request.yml"), "utf8");
    assert.match(
      workflow,
      /Pulumi\.\$\{STACK\}\.yaml is missing: .*npm run preview-stack -- --stack \$\{STACK\}, then commit Pulumi\.\$\{STACK\}\.yaml/,
    );
    assert.match(workflow, /iam\/pulumi-preview\.json/);
  });
});
