// The node check an ADD may skip (cni/nodestate.ts): what the bridge alias records and
// when it counts.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import {
  currentNetnsInode,
  NODE_RECHECK_SECONDS,
  nodeFingerprint,
  readSysfsBridge,
  recentlyVerified,
  verifiedAlias,
} from "../cni/nodestate";

describe("node check", () => {
  const fp = nodeFingerprint(["-A PODNET-FORWARD -s 10.244.0.0/16 -j ACCEPT", "bridge cni0 10.244.1.1/24 mtu 1500"]);
  const inode = 4026532315;
  const now = 1_800_000_000;

  it("fingerprints every part of the config it covers", () => {
    assert.match(fp, /^[0-9a-f]{12}$/);
    assert.notEqual(
      fp,
      nodeFingerprint(["-A PODNET-FORWARD -s 10.244.0.0/16 -j ACCEPT", "bridge cni0 10.244.2.1/24 mtu 1500"]),
    );
    assert.notEqual(
      fp,
      nodeFingerprint(["-A PODNET-FORWARD -s 10.244.0.0/16 -j ACCEPT", "bridge cni0 10.244.1.1/24 mtu 9001"]),
    );
    assert.equal(
      fp,
      nodeFingerprint(["-A PODNET-FORWARD -s 10.244.0.0/16 -j ACCEPT", "bridge cni0 10.244.1.1/24 mtu 1500"]),
    );
  });

  it("records the config, the namespace and the time in the alias", () => {
    assert.equal(verifiedAlias(fp, inode, now + 0.7), `podnet: node ${fp} netns ${inode} verified ${now}`);
    assert.ok(verifiedAlias(fp, inode, now).length < 256, "fits IFALIASZ");
  });

  it("counts a check of the same config, in the same namespace, within the window", () => {
    const alias = verifiedAlias(fp, inode, now);
    assert.equal(recentlyVerified(alias, fp, inode, now), true);
    assert.equal(recentlyVerified(alias, fp, inode, now + NODE_RECHECK_SECONDS - 1), true);
    assert.equal(recentlyVerified(alias, fp, inode, now + NODE_RECHECK_SECONDS), false, "the window has passed");
    assert.equal(
      recentlyVerified(alias, fp, inode, now - 5),
      false,
      "a check from the future (clock set back) does not count",
    );
    assert.equal(recentlyVerified(alias, "000000000000", inode, now), false, "another config");
    assert.equal(
      recentlyVerified(alias, fp, inode + 1, now),
      false,
      "another namespace: sysfs that is not the plugin's",
    );
    assert.equal(recentlyVerified("", fp, inode, now), false, "cleared by CHECK, or a new bridge");
    assert.equal(
      recentlyVerified(`podnet: iptables rules ${fp} verified ${now}`, fp, inode, now),
      false,
      "an older podnet's alias",
    );
    assert.equal(recentlyVerified(`${alias} `, fp, inode, now), false);
  });

  it("names the plugin's own network namespace", () => {
    assert.equal(currentNetnsInode(), statSync("/proc/self/ns/net").ino);
  });

  it("reads a device's ifindex, up flag and alias from sysfs, and nothing for a missing one", () => {
    assert.deepEqual(readSysfsBridge("lo"), { ifindex: 1, up: true, alias: "" });
    assert.equal(readSysfsBridge("podnet-no-such-device"), undefined);
  });
});
