// The node security group as data: one definition, the AWS rules the stack makes from it
// (test/pulumi-stack.test.ts checks the resources) and the iptables rules the lab enforces.
import assert from "node:assert/strict";
import { SG_IN_CHAIN, SG_OUT_CHAIN, securityGroupRules } from "../lab/securityGroup";
import { API_SERVER_PORT, SSH_PORT } from "../model/ports";
import { awsProtocol, nodeSecurityGroup, POD_CIDR_RULE, withoutRule } from "../model/securityGroups";

const group = nodeSecurityGroup({ adminCidrs: ["198.51.100.7/32", "192.0.2.0/24"], clusterCidr: "10.244.0.0/16" });

describe("node security group (model/securityGroups.ts)", () => {
  it("opens SSH and the API server to each admin CIDR, everything between nodes and from pods, all outbound", () => {
    const summary = group.ingress.map(
      (r) =>
        `${r.name}: ${awsProtocol(r.protocol)} ${r.fromPort ?? "*"}-${r.toPort ?? "*"} from ${"self" in r.peer ? "self" : r.peer.cidr}`,
    );
    assert.deepEqual(summary, [
      `ssh-admin-0: tcp ${SSH_PORT}-${SSH_PORT} from 198.51.100.7/32`,
      `api-admin-0: tcp ${API_SERVER_PORT}-${API_SERVER_PORT} from 198.51.100.7/32`,
      `ssh-admin-1: tcp 22-22 from 192.0.2.0/24`,
      `api-admin-1: tcp 6443-6443 from 192.0.2.0/24`,
      "nodes: -1 *-* from self",
      `${POD_CIDR_RULE}: -1 *-* from 10.244.0.0/16`,
    ]);
    assert.deepEqual(
      group.egress.map((r) => [r.name, r.protocol, "cidr" in r.peer ? r.peer.cidr : "self"]),
      [["all", "all", "0.0.0.0/0"]],
    );
  });

  it("drops one rule for a negative control, and names a rule it lacks", () => {
    assert.deepEqual(
      withoutRule(group, POD_CIDR_RULE).ingress.map((r) => r.name),
      ["ssh-admin-0", "api-admin-0", "ssh-admin-1", "api-admin-1", "nodes"],
    );
    assert.throws(() => withoutRule(group, "bogus"), /no ingress rule bogus/);
  });

  it("renders as the lab's stateful eth0 chains: replies first, one ACCEPT per rule and source, then DROP", () => {
    const text = securityGroupRules(group, ["10.0.1.10", "10.0.1.11"]);
    const inbound = text.split("\n").filter((l) => l.startsWith(`-A ${SG_IN_CHAIN} `));
    assert.match(inbound[0], /--ctstate RELATED,ESTABLISHED .* -j ACCEPT$/);
    assert.match(inbound[inbound.length - 1], /-j DROP$/);
    const accepts = inbound.slice(1, -1);
    assert.deepEqual(
      accepts.map((l) => l.replace(/ -m comment --comment "[^"]*"/, "").replace(`-A ${SG_IN_CHAIN} `, "")),
      [
        "-s 198.51.100.7/32 -p tcp -m tcp --dport 22 -j ACCEPT",
        "-s 198.51.100.7/32 -p tcp -m tcp --dport 6443 -j ACCEPT",
        "-s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
        "-s 192.0.2.0/24 -p tcp -m tcp --dport 6443 -j ACCEPT",
        // the group itself: each member's address
        "-s 10.0.1.10/32 -j ACCEPT",
        "-s 10.0.1.11/32 -j ACCEPT",
        "-s 10.244.0.0/16 -j ACCEPT",
      ],
    );
    assert.ok(text.includes(`-A ${SG_OUT_CHAIN} -d 0.0.0.0/0`), "egress all");
    assert.ok(!securityGroupRules(withoutRule(group, POD_CIDR_RULE), ["10.0.1.10"]).includes("10.244.0.0/16"));
  });
});
