// The kubeadm configs against kubeadm's own API types: every field the rendered documents carry is
// one that their API version defines, with that version's shape. The tables below are the json
// names and shapes of kubernetes/kubernetes cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go and
// v1beta4/types.go (BootstrapToken: apis/bootstraptoken/v1/types.go), for the types podnet's
// documents reach; fields podnet never sets that hold deeper types are checked by name only.
import assert from "node:assert/strict";
import { KUBERNETES_MINORS } from "../components/image";
import {
  type KubeadmApi,
  kubeadmApiOf,
  nodeRegistration,
  renderInitConfig,
  renderJoinConfig,
  V1BETA4_FROM_MINOR,
} from "../components/kubeadm";

const yaml = require("js-yaml") as { load(text: string): unknown; loadAll(text: string): unknown[] };

type Shape =
  | "string"
  | "int"
  | "bool"
  | "any"
  | { readonly list: Shape }
  | { readonly map: Shape }
  | { readonly fields: Readonly<Record<string, Shape>>; readonly required?: readonly string[] };

const strings: Shape = { list: "string" };
const struct = (fields: Record<string, Shape>, required: string[] = []): Shape => ({ fields, required });
const typeMeta = { apiVersion: "string", kind: "string" } as const;

// The types v1beta3 and v1beta4 share unchanged.
const apiEndpoint = struct({ advertiseAddress: "string", bindPort: "int" });
const bootstrapToken = struct({
  token: "string",
  description: "string",
  ttl: "string",
  expires: "string",
  usages: strings,
  groups: strings,
});
const networking = struct({ serviceSubnet: "string", podSubnet: "string", dnsDomain: "string" });
const hostPathMount = struct({
  name: "string",
  hostPath: "string",
  mountPath: "string",
  readOnly: "bool",
  pathType: "string",
});
const patches = struct({ directory: "string" });
const bootstrapTokenDiscovery = struct(
  { token: "string", apiServerEndpoint: "string", caCertHashes: strings, unsafeSkipCAVerification: "bool" },
  ["token"],
);
const fileDiscovery = struct({ kubeConfigPath: "string" }, ["kubeConfigPath"]);
const joinControlPlane = struct({ localAPIEndpoint: apiEndpoint, certificateKey: "string" });
const imageMeta = { imageRepository: "string", imageTag: "string" } as const;
const clusterCommon = {
  ...typeMeta,
  etcd: "any",
  networking,
  kubernetesVersion: "string",
  controlPlaneEndpoint: "string",
  certificatesDir: "string",
  imageRepository: "string",
  featureGates: { map: "bool" },
  clusterName: "string",
} as const;

function v1beta3(): Record<string, Shape> {
  const extraArgs: Shape = { map: "string" };
  const component: Record<string, Shape> = { extraArgs, extraVolumes: { list: hostPathMount } };
  const nodeRegistrationOptions = struct({
    name: "string",
    criSocket: "string",
    taints: { list: "any" },
    kubeletExtraArgs: extraArgs,
    ignorePreflightErrors: strings,
    imagePullPolicy: "string",
  });
  const discovery = struct({
    bootstrapToken: bootstrapTokenDiscovery,
    file: fileDiscovery,
    tlsBootstrapToken: "string",
    timeout: "string",
  });
  return {
    InitConfiguration: struct({
      ...typeMeta,
      bootstrapTokens: { list: bootstrapToken },
      nodeRegistration: nodeRegistrationOptions,
      localAPIEndpoint: apiEndpoint,
      certificateKey: "string",
      skipPhases: strings,
      patches,
    }),
    ClusterConfiguration: struct({
      ...clusterCommon,
      apiServer: struct({ ...component, certSANs: strings, timeoutForControlPlane: "string" }),
      controllerManager: struct(component),
      scheduler: struct(component),
      dns: struct(imageMeta),
    }),
    JoinConfiguration: struct(
      {
        ...typeMeta,
        nodeRegistration: nodeRegistrationOptions,
        caCertPath: "string",
        discovery,
        controlPlane: joinControlPlane,
        skipPhases: strings,
        patches,
      },
      ["discovery"],
    ),
  };
}

function v1beta4(): Record<string, Shape> {
  const extraArgs: Shape = { list: struct({ name: "string", value: "string" }, ["name", "value"]) };
  const component: Record<string, Shape> = {
    extraArgs,
    extraVolumes: { list: hostPathMount },
    extraEnvs: { list: "any" },
  };
  const nodeRegistrationOptions = struct({
    name: "string",
    criSocket: "string",
    taints: { list: "any" },
    kubeletExtraArgs: extraArgs,
    ignorePreflightErrors: strings,
    imagePullPolicy: "string",
    imagePullSerial: "bool",
  });
  const timeouts = struct(
    Object.fromEntries(
      [
        "controlPlaneComponentHealthCheck",
        "kubeletHealthCheck",
        "kubernetesAPICall",
        "etcdAPICall",
        "tlsBootstrap",
        "discovery",
        "upgradeManifests",
      ].map((name) => [name, "string" as Shape]),
    ),
  );
  const discovery = struct({
    bootstrapToken: bootstrapTokenDiscovery,
    file: fileDiscovery,
    tlsBootstrapToken: "string",
  });
  return {
    InitConfiguration: struct({
      ...typeMeta,
      bootstrapTokens: { list: bootstrapToken },
      dryRun: "bool",
      nodeRegistration: nodeRegistrationOptions,
      localAPIEndpoint: apiEndpoint,
      certificateKey: "string",
      skipPhases: strings,
      patches,
      timeouts,
    }),
    ClusterConfiguration: struct({
      ...clusterCommon,
      apiServer: struct({ ...component, certSANs: strings }),
      controllerManager: struct(component),
      scheduler: struct(component),
      dns: struct({ ...imageMeta, disabled: "bool" }),
      proxy: struct({ disabled: "bool" }),
      encryptionAlgorithm: "string",
      certificateValidityPeriod: "string",
      caCertificateValidityPeriod: "string",
    }),
    JoinConfiguration: struct(
      {
        ...typeMeta,
        dryRun: "bool",
        nodeRegistration: nodeRegistrationOptions,
        caCertPath: "string",
        discovery,
        controlPlane: joinControlPlane,
        skipPhases: strings,
        patches,
        timeouts,
      },
      ["discovery"],
    ),
  };
}

const SCHEMAS: Record<KubeadmApi, Record<string, Shape>> = { v1beta3: v1beta3(), v1beta4: v1beta4() };

/** Where a value departs from its shape: fields the type does not define, missing or mistyped ones. */
function problems(value: unknown, shape: Shape, path: string): string[] {
  if (shape === "any") return [];
  if (shape === "string" || shape === "bool") {
    const want = shape === "string" ? "string" : "boolean";
    return typeof value === want ? [] : [`${path}: want ${shape}, got ${JSON.stringify(value)}`];
  }
  if (shape === "int") return Number.isInteger(value) ? [] : [`${path}: want int, got ${JSON.stringify(value)}`];
  if ("list" in shape) {
    if (!Array.isArray(value)) return [`${path}: want a list, got ${JSON.stringify(value)}`];
    return value.flatMap((item, i) => problems(item, shape.list, `${path}[${i}]`));
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [`${path}: want a mapping, got ${JSON.stringify(value)}`];
  }
  const entries = Object.entries(value);
  if ("map" in shape) return entries.flatMap(([key, item]) => problems(item, shape.map, `${path}.${key}`));
  const missing = (shape.required ?? []).filter((key) => !(key in value)).map((key) => `${path}.${key}: missing`);
  return [
    ...missing,
    ...entries.flatMap(([key, item]) =>
      key in shape.fields ? problems(item, shape.fields[key], `${path}.${key}`) : [`${path}.${key}: not a field`],
    ),
  ];
}

/** The problems of one parsed document against the schema of an API version, by its kind. */
function check(api: KubeadmApi, document: any): string[] {
  const schema = SCHEMAS[api][document.kind];
  if (!schema) return [`kind ${document.kind} is not a ${api} type`];
  return problems(document, schema, document.kind);
}

const initInput = (kubernetesMinor: number) => ({
  kubernetesMinor,
  nodeName: "control-plane",
  privateIp: "10.0.1.10",
  publicIp: "203.0.113.10",
  podSubnet: "10.244.0.0/16",
  serviceSubnet: "10.96.0.0/12",
});
const join = {
  apiServerEndpoint: "10.0.1.10:6443",
  token: "abcdef.0123456789abcdef",
  caCertHash: `sha256:${"0f".repeat(32)}`,
};
const joinInput = (kubernetesMinor: number) => ({
  kubernetesMinor,
  nodeName: "worker-1",
  privateIp: "10.0.1.11",
  join,
});

/** Every document the stack renders for a minor, parsed: InitConfiguration, ClusterConfiguration, JoinConfiguration. */
function documents(minor: number): any[] {
  return [...yaml.loadAll(renderInitConfig(initInput(minor))), yaml.load(renderJoinConfig(joinInput(minor)))];
}

describe("kubeadm configs against kubeadm's API types", () => {
  it("switches to v1beta4 at Kubernetes 1.31, and every minor the image supports gets v1beta4", () => {
    assert.equal(V1BETA4_FROM_MINOR, 31);
    assert.equal(kubeadmApiOf(30), "v1beta3");
    assert.equal(kubeadmApiOf(31), "v1beta4");
    for (let minor = KUBERNETES_MINORS.lowest; minor <= KUBERNETES_MINORS.highest; minor++) {
      assert.equal(kubeadmApiOf(minor), "v1beta4", `1.${minor}`);
    }
  });

  for (const minor of [30, 31, 35]) {
    const api = kubeadmApiOf(minor);
    it(`1.${minor}: each document is a ${api} type and carries only ${api}'s fields, in ${api}'s shapes`, () => {
      const docs = documents(minor);
      assert.deepEqual(
        docs.map((d) => d.kind),
        ["InitConfiguration", "ClusterConfiguration", "JoinConfiguration"],
      );
      for (const doc of docs) {
        assert.equal(doc.apiVersion, `kubeadm.k8s.io/${api}`);
        assert.deepEqual(check(api, doc), [], `${doc.kind} as ${api}`);
      }
    });
  }

  it("the tables tell the versions apart: each version's documents break the other's extra-argument shape", () => {
    const asV1beta3 = documents(35).flatMap((doc) => check("v1beta3", doc));
    assert.deepEqual(asV1beta3, [
      'InitConfiguration.nodeRegistration.kubeletExtraArgs: want a mapping, got [{"name":"node-ip","value":"10.0.1.10"}]',
      'ClusterConfiguration.controllerManager.extraArgs: want a mapping, got [{"name":"allocate-node-cidrs","value":"false"}]',
      'JoinConfiguration.nodeRegistration.kubeletExtraArgs: want a mapping, got [{"name":"node-ip","value":"10.0.1.11"}]',
    ]);
    const asV1beta4 = documents(30).flatMap((doc) => check("v1beta4", doc));
    assert.equal(asV1beta4.length, 3);
    for (const problem of asV1beta4) assert.match(problem, /ExtraArgs: want a list/i);
  });

  it("the tables refuse a field the version does not define", () => {
    const [init] = documents(35);
    assert.deepEqual(
      check("v1beta4", { ...init, nodeRegistration: { ...init.nodeRegistration, kubeletExtraArg: [] } }),
      ["InitConfiguration.nodeRegistration.kubeletExtraArg: not a field"],
    );
    const [, cluster] = documents(35);
    assert.deepEqual(
      check("v1beta4", { ...cluster, apiServer: { ...cluster.apiServer, timeoutForControlPlane: "4m" } }),
      ["ClusterConfiguration.apiServer.timeoutForControlPlane: not a field"],
    );
  });

  it("init and join register their node through the one nodeRegistration", () => {
    for (const minor of [30, 35]) {
      const [init, , joinConfig] = documents(minor);
      const api = kubeadmApiOf(minor);
      assert.deepEqual(init.nodeRegistration, nodeRegistration(api, "control-plane", "10.0.1.10"));
      assert.deepEqual(joinConfig.nodeRegistration, nodeRegistration(api, "worker-1", "10.0.1.11"));
    }
  });
});
