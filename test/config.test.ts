// Bad input is refused with the spec's code and a message naming the field, before the
// plugin touches anything (these calls never reach netlink or the IPAM store).
import assert from "node:assert/strict";
import { parseNetConf } from "../cni/config";
import { renderConflist } from "../cni/conflist";
import { invoke } from "../cni/plugin";

const good = {
  cniVersion: "1.0.0",
  name: "podnet",
  type: "podnet",
  subnet: "10.244.1.0/24",
  clusterCidr: "10.244.0.0/16",
  dataDir: "/nonexistent/podnet-test",
  logFile: "",
};
const addEnv = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "abc",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};

function call(env: Record<string, string | undefined>, stdin: unknown) {
  const out = invoke(env, typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  const json = out.stdout ? JSON.parse(out.stdout) : undefined;
  return { ...out, json };
}

describe("bad input: spec error codes and messages", () => {
  const cases: Array<[string, Record<string, string | undefined>, unknown, number, RegExp]> = [
    ["malformed JSON", addEnv, "{not json", 6, /not valid JSON/],
    ["JSON that is not an object", addEnv, "[1,2]", 6, /must be a JSON object/],
    ["missing CNI_COMMAND", { ...addEnv, CNI_COMMAND: undefined }, good, 4, /CNI_COMMAND is not set/],
    ["unknown CNI_COMMAND", { ...addEnv, CNI_COMMAND: "FROB" }, good, 4, /"FROB" is not a CNI verb/],
    ["missing CNI_CONTAINERID", { ...addEnv, CNI_CONTAINERID: undefined }, good, 4, /CNI_CONTAINERID is required/],
    [
      "container id with a slash",
      { ...addEnv, CNI_CONTAINERID: "../etc" },
      good,
      4,
      /CNI_CONTAINERID "..\/etc" is not valid/,
    ],
    ["missing CNI_NETNS on ADD", { ...addEnv, CNI_NETNS: undefined }, good, 4, /CNI_NETNS is required for ADD/],
    ["relative CNI_NETNS", { ...addEnv, CNI_NETNS: "netns/x" }, good, 4, /not an absolute path/],
    [
      "CNI_NETNS with a space",
      { ...addEnv, CNI_NETNS: "/run/netns/a b" },
      good,
      4,
      /has characters podnet does not accept/,
    ],
    ["missing CNI_IFNAME", { ...addEnv, CNI_IFNAME: undefined }, good, 4, /CNI_IFNAME is required/],
    ["interface name too long", { ...addEnv, CNI_IFNAME: "eth0123456789012" }, good, 4, /longer than 15/],
    ["interface name in quotes", { ...addEnv, CNI_IFNAME: '"e"' }, good, 4, /CNI_IFNAME "\\"e\\"" contains a quote/],
    [
      "interface name with a quote inside",
      { ...addEnv, CNI_IFNAME: '"e"up' },
      good,
      4,
      /CNI_IFNAME .* contains a quote, '#'/,
    ],
    ["interface name with '#'", { ...addEnv, CNI_IFNAME: "e#x" }, good, 4, /CNI_IFNAME "e#x" contains a quote, '#'/],
    ["interface name with a backslash", { ...addEnv, CNI_IFNAME: "e\\x" }, good, 4, /CNI_IFNAME .* backslash/],
    ["interface name with an apostrophe", { ...addEnv, CNI_IFNAME: "e'x" }, good, 4, /CNI_IFNAME .* quote/],
    [
      "interface name '..'",
      { ...addEnv, CNI_IFNAME: ".." },
      good,
      4,
      /CNI_IFNAME "\.\." is not a valid interface name/,
    ],
    [
      "interface name with ':'",
      { ...addEnv, CNI_IFNAME: "eth0:1" },
      good,
      4,
      /CNI_IFNAME "eth0:1" contains '\/', ':' or white space/,
    ],
    ["interface name with a tab", { ...addEnv, CNI_IFNAME: "e\tx" }, good, 4, /CNI_IFNAME .* white space/],
    [
      "interface name over 15 bytes in UTF-8",
      { ...addEnv, CNI_IFNAME: "ééééééééé" },
      good,
      4,
      /CNI_IFNAME .* longer than 15 bytes/,
    ],
    ["unknown cniVersion", addEnv, { ...good, cniVersion: "0.2.0" }, 1, /cniVersion "0.2.0" is not supported/],
    ["missing cniVersion", addEnv, { ...good, cniVersion: undefined }, 1, /"cniVersion" is missing/],
    ["missing subnet", addEnv, { ...good, subnet: undefined }, 7, /"subnet" is required/],
    ["subnet not a CIDR", addEnv, { ...good, subnet: "10.244.1.0" }, 7, /"subnet" "10.244.1.0" is not a CIDR/],
    ["subnet with host bits", addEnv, { ...good, subnet: "10.244.1.7/24" }, 7, /network is 10.244.1.0\/24/],
    ["subnet with a bad octet", addEnv, { ...good, subnet: "10.244.300.0/24" }, 7, /not an IPv4 address/],
    ["subnet too small for a pod", addEnv, { ...good, subnet: "10.244.1.0/31" }, 7, /leaves no address for pods/],
    [
      "subnet outside clusterCidr",
      addEnv,
      { ...good, subnet: "10.245.1.0/24" },
      7,
      /10.245.1.0\/24 is outside clusterCidr 10.244.0.0\/16/,
    ],
    ["bad clusterCidr", addEnv, { ...good, clusterCidr: "10.244.0.0/40" }, 7, /"clusterCidr" prefix \/40/],
    [
      "labs' network field",
      addEnv,
      { ...good, clusterCidr: undefined, network: "10.244.0.0/16" },
      7,
      /rename it to "clusterCidr"|labs' name/,
    ],
    ["misspelt field", addEnv, { ...good, clusterCIDR: "10.244.0.0/16" }, 7, /"clusterCIDR" is not a podnet field/],
    ["bad mtu", addEnv, { ...good, mtu: 100 }, 7, /"mtu" must be a whole number from 576 to 9216/],
    ["bad bridge name", addEnv, { ...good, bridge: "a/b" }, 7, /"bridge" "a\/b" contains/],
    ["bridge name ip -batch cannot carry", addEnv, { ...good, bridge: 'br"0' }, 7, /"bridge" .* contains a quote/],
    [
      "GC list not a list",
      { CNI_COMMAND: "GC", CNI_PATH: "/x" },
      { ...good, cniVersion: "1.1.0", "cni.dev/attachments": {} },
      7,
      /"cni.dev\/attachments" must be a list/,
    ],
    ["hairpin not boolean", addEnv, { ...good, hairpin: "yes" }, 7, /"hairpin" must be true or false/],
    ["relative dataDir", addEnv, { ...good, dataDir: "ipam" }, 7, /"dataDir" must be an absolute path/],
    ["bad network name", addEnv, { ...good, name: "my net" }, 7, /"name" must be a network name/],
    [
      "CHECK on a 0.3.1 config",
      { ...addEnv, CNI_COMMAND: "CHECK" },
      { ...good, cniVersion: "0.3.1" },
      1,
      /CHECK needs cniVersion 0.4.0/,
    ],
    ["GC on a 1.0.0 config", { CNI_COMMAND: "GC", CNI_PATH: "/x" }, good, 1, /GC needs cniVersion 1.1.0/],
    [
      "STATUS on a 0.4.0 config",
      { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
      { ...good, cniVersion: "0.4.0" },
      1,
      /STATUS needs cniVersion 1.1.0/,
    ],
    [
      "GC without valid-attachments",
      { CNI_COMMAND: "GC", CNI_PATH: "/x" },
      { ...good, cniVersion: "1.1.0" },
      7,
      /GC needs "cni.dev\/valid-attachments" or "cni.dev\/attachments"/,
    ],
    ["CHECK without prevResult", { ...addEnv, CNI_COMMAND: "CHECK" }, good, 7, /prevResult is missing/],
  ];
  for (const [title, env, stdin, code, msg] of cases) {
    it(`${title} -> code ${code}`, () => {
      const out = call(env, stdin);
      assert.equal(out.exitCode, 1, "non-zero exit");
      assert.equal(out.json.code, code, out.stdout);
      assert.match(`${out.json.msg} ${out.json.details ?? ""}`, msg);
      assert.equal(typeof out.json.cniVersion, "string");
      assert.equal(out.log?.entry.result, "error");
      assert.equal(out.log?.entry.code, code);
    });
  }

  it("answers errors in the config's version when it has a usable one", () => {
    const out = call(addEnv, { ...good, cniVersion: "0.4.0", subnet: "nope" });
    assert.equal(out.json.cniVersion, "0.4.0");
    assert.equal(call(addEnv, "{").json.cniVersion, "1.1.0");
  });

  it("logs an error in the CNI_* variables to the logFile stdin names, the default one only when stdin has none", () => {
    const conf = { ...good, logFile: "/var/log/elsewhere/podnet.log" };
    assert.equal(call({ ...addEnv, CNI_IFNAME: '"e"' }, conf).log?.file, "/var/log/elsewhere/podnet.log");
    assert.equal(call({ ...addEnv, CNI_COMMAND: "FROB" }, conf).log?.file, "/var/log/elsewhere/podnet.log");
    assert.equal(
      call({ ...addEnv, CNI_CONTAINERID: undefined }, { ...good, logFile: "" }).log?.file,
      "",
      "a log turned off stays off",
    );
    assert.equal(call({ ...addEnv, CNI_IFNAME: '"e"' }, "{").log?.file, "/var/log/podnet.log");
    assert.equal(
      call({ ...addEnv, CNI_IFNAME: '"e"' }, { ...good, logFile: "relative.log" }).log?.file,
      "/var/log/podnet.log",
    );
  });

  it("GC reads the attachments to keep from cni.dev/valid-attachments (libcni) and cni.dev/attachments (SPEC 1.1.0), and from both", () => {
    const a = { containerID: "a", ifname: "eth0" };
    const b = { containerID: "b", ifname: "net1" };
    const v11 = { ...good, cniVersion: "1.1.0" };
    assert.deepEqual(parseNetConf({ ...v11, "cni.dev/valid-attachments": [a] }).validAttachments, [
      { containerId: "a", ifname: "eth0" },
    ]);
    assert.deepEqual(parseNetConf({ ...v11, "cni.dev/attachments": [b] }).validAttachments, [
      { containerId: "b", ifname: "net1" },
    ]);
    assert.deepEqual(
      parseNetConf({ ...v11, "cni.dev/valid-attachments": [a], "cni.dev/attachments": [b] }).validAttachments?.map(
        (x) => x.containerId,
      ),
      ["a", "b"],
    );
    assert.deepEqual(
      parseNetConf({ ...v11, "cni.dev/attachments": [] }).validAttachments,
      [],
      "an empty list keeps nothing",
    );
  });

  it("fills an absent key with the default the conflist renders", () => {
    const rendered = renderConflist({ podCidr: good.subnet }, { clusterCidr: good.clusterCidr }).plugins[0] as Record<
      string,
      unknown
    >;
    const { bridge, mtu, hairpin, ipMasq, dataDir, logFile } = parseNetConf({
      cniVersion: "1.0.0",
      name: "podnet",
      subnet: good.subnet,
      clusterCidr: good.clusterCidr,
    });
    assert.deepEqual(
      { bridge, mtu, hairpin, ipMasq, dataDir, logFile },
      {
        bridge: rendered.bridge,
        mtu: rendered.mtu,
        hairpin: rendered.hairpin,
        ipMasq: rendered.ipMasq,
        dataDir: rendered.dataDir,
        logFile: rendered.logFile,
      },
    );
  });

  it("takes the newest supported entry of a cniVersions list", () => {
    const conf = parseNetConf({ ...good, cniVersion: undefined, cniVersions: ["0.2.0", "1.0.0", "1.1.0", "9.9.9"] });
    assert.equal(conf.cniVersion, "1.1.0");
  });
});

describe("VERSION", () => {
  it("lists every supported version and echoes the requested one", () => {
    const out = call({ CNI_COMMAND: "VERSION" }, { cniVersion: "0.4.0" });
    assert.equal(out.exitCode, 0);
    assert.deepEqual(out.json, {
      cniVersion: "0.4.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    assert.equal(call({ CNI_COMMAND: "VERSION" }, "").json.cniVersion, "1.1.0");
    assert.equal(out.log, undefined, "VERSION has no network config, hence no log file");
  });
});
