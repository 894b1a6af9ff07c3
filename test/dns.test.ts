// Cluster DNS as kubeadm and kubelet set it up, and the lab's stand-in for CoreDNS.
import assert from "node:assert/strict";
import { dnsAnswer, dnsQuery, readQuestion } from "../lab/dnsWire";
import { clusterDnsIp, kubeletResolvConf, serviceFqdn } from "../model/dns";

const records = new Map([[serviceFqdn("web", "default"), "10.96.0.20"]]);

describe("cluster DNS", () => {
  it("puts kube-dns at the 10th address of the service CIDR, as kubeadm does", () => {
    assert.equal(clusterDnsIp("10.96.0.0/12"), "10.96.0.10");
    assert.equal(clusterDnsIp("172.20.0.0/16"), "172.20.0.10");
  });

  it("writes a pod's resolv.conf as kubelet does for ClusterFirst", () => {
    assert.equal(
      kubeletResolvConf("10.96.0.10", "default"),
      "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
    );
  });

  it("answers A queries for its names, NOERROR-empty for other types, NXDOMAIN otherwise", () => {
    const a = dnsAnswer(dnsQuery(0x1234, "WEB.default.svc.cluster.local"), records);
    assert.ok(a);
    assert.equal(a.readUInt16BE(0), 0x1234, "id echoed");
    assert.equal(a.readUInt16BE(2) & 0x8000, 0x8000, "a response");
    assert.equal(a.readUInt16BE(2) & 0x0400, 0x0400, "authoritative");
    assert.equal(a.readUInt16BE(2) & 0x000f, 0, "NOERROR");
    assert.equal(a.readUInt16BE(6), 1, "one answer");
    assert.deepEqual([...a.subarray(a.length - 4)], [10, 96, 0, 20]);
    assert.equal(readQuestion(a)?.name, "web.default.svc.cluster.local");

    const aaaa = dnsAnswer(dnsQuery(1, "web.default.svc.cluster.local", 28), records);
    assert.ok(aaaa, "an AAAA query gets an answer");
    assert.deepEqual([aaaa.readUInt16BE(2) & 0x000f, aaaa.readUInt16BE(6)], [0, 0]);
    const unknown = dnsAnswer(dnsQuery(2, "web.svc.cluster.local"), records);
    assert.ok(unknown, "an unknown name gets an answer");
    assert.deepEqual([unknown.readUInt16BE(2) & 0x000f, unknown.readUInt16BE(6)], [3, 0]);
  });

  it("ignores responses and refuses what it cannot read", () => {
    const response = dnsAnswer(dnsQuery(3, "web.default.svc.cluster.local"), records);
    assert.equal(dnsAnswer(response!, records), undefined, "never answers an answer");
    const truncated = dnsQuery(4, "web.default.svc.cluster.local").subarray(0, 20);
    const formerr = dnsAnswer(truncated, records);
    assert.ok(formerr, "a truncated query gets an answer");
    assert.equal(formerr.readUInt16BE(2) & 0x000f, 1, "FORMERR");
    assert.equal(dnsAnswer(Buffer.alloc(5), records), undefined);
  });
});
