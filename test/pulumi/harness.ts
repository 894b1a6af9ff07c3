// Builds the stack under pulumi.runtime.setMocks and records what the engine would see:
// every registered resource with its inputs (secrets still marked), its parent, and the
// URNs it depends on (read off the RegisterResource request, i.e. dependsOn plus the
// resources its inputs come from). Tests then assert the graph, not our own bookkeeping.
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "../../components/cluster";
import type { ClusterConfig } from "../../components/config";
import { seal } from "../../components/seal";
import { connectivityOf } from "../../verify/node";

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface Recorded {
  readonly type: string;
  readonly name: string;
  urn: string;
  readonly parent: string;
  readonly dependencies: string[];
  /** Inputs as sent, secrets still wrapped. */
  readonly rawInputs: unknown;
  /** Inputs with secret wrappers removed. */
  readonly inputs: any;
  /** Outputs the mock returned. */
  state: any;
  readonly additionalSecretOutputs: string[];
  readonly deleteBeforeReplace: boolean;
  readonly ignoreChanges: string[];
  /** URN of the resource whose deletion makes this one's delete unnecessary ("" if none). */
  readonly deletedWith: string;
}

export function isSecretValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as any)[SIG_KEY] === SECRET_SIG;
}

export function containsSecret(value: unknown): boolean {
  if (isSecretValue(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecret);
  return false;
}

export function unwrap(value: any): any {
  if (isSecretValue(value)) return unwrap(value.value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  return value;
}

/** What a fake control plane prints, and what a fake admin.conf holds. */
export const FAKE_CA_HASH = `sha256:${"ab".repeat(32)}`;
export const FAKE_TOKEN = "abcdef.0123456789abcdef";
export const FAKE_ADMIN_CONF = [
  "apiVersion: v1",
  "clusters:",
  "- cluster:",
  "    certificate-authority-data: Q0EK",
  "    server: https://10.0.1.10:6443",
  "  name: podnet",
  "users:",
  "- name: kubernetes-admin",
  "  user:",
  "    client-certificate-data: Q0VSVAo=",
  "    client-key-data: S0VZCg==",
  "",
].join("\n");

/** What the control plane's verifier prints on stdout: a report with one passing row. */
export const FAKE_CONNECTIVITY = connectivityOf({
  ok: true,
  runId: "abc123",
  namespace: "podnet-verify-abc123",
  nodes: ["control-plane", "worker-1"],
  rows: [
    {
      phase: "cluster",
      group: "pod -> pod, other node",
      from: "shell-worker-1",
      to: "web-worker-2 10.244.2.2:8080",
      expect: "src 10.244.1.3",
      seen: "src 10.244.1.3",
      ok: true,
      ms: 412,
    },
  ],
  failures: [],
  cleanup: "namespace podnet-verify-abc123 removed",
  ms: 30_000,
});
const VERIFY_COMMAND_MARK = 'cat >"$dir/verify.js"';

function publicKeyIn(script: string): string {
  const match = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n/.exec(script);
  if (!match) throw new Error("mock: the sealing command embeds no public key");
  return match[0];
}

/** An ed25519 key as @pulumi/tls gives it (the private half in a stand-in OpenSSH armour). */
function fakeEd25519Key(): Record<string, string> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64");
  const body = privateKey.export({ type: "pkcs8", format: "der" }).toString("base64");
  return {
    algorithm: "ED25519",
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    publicKeyOpenssh: `ssh-ed25519 ${blob}\n`,
  };
}

// One key per resource name for the whole test run, so two builds of the stack can be compared.
const keys = new Map<string, Record<string, string>>();
function fakeKey(name: string, algorithm: string): Record<string, string> {
  const cached = keys.get(name);
  if (cached) return cached;
  if (algorithm === "ED25519") {
    const key = fakeEd25519Key();
    keys.set(name, key);
    return key;
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  const key = {
    algorithm: "RSA",
    privateKeyPem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    publicKeyOpenssh: `ssh-rsa ${jwk.n} podnet-test\n`,
  };
  keys.set(name, key);
  return key;
}

/** What the engine sends for a value a provider will only know after the update. */
export const UNKNOWN = pulumi.runtime.unknownValue;

/** In a preview, provider-computed outputs are unknown; the program must cope. */
const COMPUTED_IN_PREVIEW: Record<string, string[]> = {
  "aws:ec2/instance:Instance": ["primaryNetworkInterfaceId", "privateIp", "publicIp"],
  "aws:ec2/eip:Eip": ["publicIp"],
  "aws:ec2/keyPair:KeyPair": ["keyName"],
  "tls:index/privateKey:PrivateKey": ["privateKeyPem", "privateKeyOpenssh", "publicKeyPem", "publicKeyOpenssh"],
  "command:remote:Command": ["stdout", "stderr"],
};

/** Graviton families (t4g, m7g, c7gn, im4gn, a1) run arm64; the rest of EC2 runs x86_64. */
export function mockArchitectures(instanceType: string): string[] {
  const family = instanceType.split(".")[0];
  return family === "a1" || /^[a-z]+\d+[a-z]*g/.test(family) ? ["arm64"] : ["i386", "x86_64"];
}

/** Invoke results a test substitutes for the defaults, by token. */
export type InvokeOverrides = Record<string, (inputs: any) => Record<string, unknown>>;

export interface MockOptions {
  readonly preview?: boolean;
  readonly stack?: string;
  /** The outputs of the stack's last update, as a StackReference to itself reads them (none: a new stack). */
  readonly previousOutputs?: Record<string, unknown>;
  readonly invokes?: InvokeOverrides;
}

class Recorder implements pulumi.runtime.Mocks {
  constructor(
    private readonly preview: boolean,
    private readonly options: MockOptions = {},
  ) {}
  readonly resources: Recorded[] = [];
  readonly calls: pulumi.runtime.MockCallArgs[] = [];
  private instanceCount = 0;

  async newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const inputs = unwrap(args.inputs);
    let state: Record<string, unknown> = { ...args.inputs };
    let id = `${args.name}-id`;
    switch (args.type) {
      case "aws:ec2/instance:Instance": {
        const n = 10 + this.instanceCount++;
        id = `i-${args.name}`;
        state = {
          ...state,
          primaryNetworkInterfaceId: `eni-${args.name}`,
          privateIp: `10.0.1.${n}`,
          publicIp: `198.51.100.${n}`,
        };
        break;
      }
      case "aws:ec2/keyPair:KeyPair":
        state = { ...state, keyName: `${args.name}-key` };
        break;
      case "aws:ec2/eip:Eip":
        state = { ...state, publicIp: "203.0.113.10" };
        break;
      case "tls:index/privateKey:PrivateKey":
        state = { ...state, ...fakeKey(args.name, inputs.algorithm) };
        break;
      case "pulumi:pulumi:StackReference":
        state = { ...state, outputs: this.options.previousOutputs ?? {}, secretOutputNames: [] };
        break;
      case "command:remote:Command": {
        const create: string = typeof inputs.create === "string" ? inputs.create : "";
        if (create.includes("kubeadm token create")) {
          const line = `kubeadm join 10.0.1.10:6443 --token ${FAKE_TOKEN} --discovery-token-ca-cert-hash ${FAKE_CA_HASH} \n`;
          state = { ...state, stdout: seal(line, publicKeyIn(create)), stderr: "" };
        } else if (create.includes(VERIFY_COMMAND_MARK)) {
          state = { ...state, stdout: JSON.stringify(FAKE_CONNECTIVITY), stderr: "" };
        } else if (create.includes("admin kubeconfig read")) {
          state = { ...state, stdout: seal(FAKE_ADMIN_CONF, publicKeyIn(create)), stderr: "" };
        } else {
          state = { ...state, stdout: "", stderr: "" };
        }
        break;
      }
    }
    if (this.preview) {
      for (const key of COMPUTED_IN_PREVIEW[args.type] ?? []) state[key] = UNKNOWN;
    }
    const record = this.resources.find((r) => r.type === args.type && r.name === args.name && r.state === undefined);
    if (record) record.state = unwrap(state);
    return { id, state };
  }

  async call(args: pulumi.runtime.MockCallArgs): Promise<pulumi.runtime.MockCallResult> {
    this.calls.push(args);
    const override = this.options.invokes?.[args.token];
    if (override) return override(args.inputs);
    switch (args.token) {
      case "aws:ec2/getAmiIds:getAmiIds":
        return { id: "podnet-images", ids: ["ami-0fedcba9876543210", "ami-00000000000000001"] };
      case "aws:ec2/getInstanceType:getInstanceType":
        return {
          id: args.inputs.instanceType,
          instanceType: args.inputs.instanceType,
          supportedArchitectures: mockArchitectures(args.inputs.instanceType),
        };
      case "aws:ec2/getAmi:getAmi":
        return { id: "ami-0fedcba9876543210", architecture: "x86_64", name: "podnet-node-k8s-1.35-x86_64-20260101" };
      case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
        // us-east-1e offers neither; us-east-1a offers only t3.small: the stack must pick 1b.
        const offers: Array<[string, string]> = [
          ["us-east-1a", "t3.small"],
          ["us-east-1c", "t3.small"],
          ["us-east-1c", "t3.medium"],
          ["us-east-1b", "t3.medium"],
          ["us-east-1b", "t3.small"],
        ];
        // Any other type asked for (t4g, m7g, ...) is offered in 1b and 1c.
        const asked: string[] = args.inputs.filters?.find((f: any) => f.name === "instance-type")?.values ?? [];
        for (const type of asked.filter((t) => !t.startsWith("t3.")))
          offers.push(["us-east-1b", type], ["us-east-1c", type]);
        return {
          id: "us-east-1",
          locations: offers.map((o) => o[0]),
          instanceTypes: offers.map((o) => o[1]),
          locationTypes: offers.map(() => "availability-zone"),
        };
      }
      default:
        return args.inputs;
    }
  }
}

export interface Built extends Session {
  readonly cluster: Cluster;
  urnOf(type: string, name: string): string;
}

/** The value of an Output (undefined while unknown). */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return (output as any).promise() as Promise<T>;
}

export interface Session {
  readonly resources: Recorded[];
  readonly calls: pulumi.runtime.MockCallArgs[];
  /** Resolves once no registration has been in flight for a few turns of the event loop. */
  settle(): Promise<void>;
  byType(type: string): Recorded[];
  one(type: string, name: string): Recorded;
}

/** Fresh mocks with a recording monitor: what the engine would receive, request by request. */
export async function startMocks(options: MockOptions = {}): Promise<Session> {
  const recorder = new Recorder(options.preview ?? false, options);
  // "organization" is what a self-managed backend calls every stack's organization.
  await pulumi.runtime.setMocks(recorder, "podnet", options.stack ?? "test", options.preview ?? false, "organization");
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  let pending = 0;
  const failures: string[] = [];
  monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) => {
    pending++;
    const raw = req.getObject()?.toJavaScript() ?? {};
    const record: Recorded = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      rawInputs: raw,
      inputs: unwrap(raw),
      state: undefined,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      ignoreChanges: req.getIgnorechangesList(),
      deletedWith: req.getDeletedwith(),
    };
    recorder.resources.push(record);
    return register(req, (err: any, resp: any) => {
      if (resp) record.urn = resp.getUrn();
      if (err) failures.push(`${record.type} ${record.name}: ${err.message ?? err}`);
      pending--;
      callback(err, resp);
    });
  };
  const resources = recorder.resources;
  const byType = (type: string) => resources.filter((r) => r.type === type);
  return {
    resources,
    calls: recorder.calls,
    byType,
    one(type, name) {
      const found = resources.filter((r) => r.type === type && r.name === name);
      if (found.length !== 1) throw new Error(`expected one ${type} ${name}, found ${found.length}`);
      return found[0];
    },
    async settle() {
      let quiet = 0;
      while (quiet < 5) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        quiet = pending === 0 ? quiet + 1 : 0;
      }
      if (failures.length > 0) throw new Error(`registration failed:\n${failures.join("\n")}`);
    },
  };
}

/** Builds the Cluster for a config under fresh mocks and waits until every resource is registered. */
export async function buildCluster(config: ClusterConfig, options: MockOptions = {}): Promise<Built> {
  const session = await startMocks(options);
  const cluster = new Cluster("podnet", config);
  // Wait for the outputs (they depend on nearly everything), then for the stragglers.
  await Promise.all(
    [outputValue(cluster.nodeTable), outputValue(cluster.bootstrap.ready), outputValue(cluster.kubeconfig)].map((p) =>
      p.catch(() => undefined),
    ),
  );
  await session.settle();
  return { ...session, cluster, urnOf: (type, name) => session.one(type, name).urn };
}
