// What the lab tells a person who keeps it up (--keep): commands to look around it, with
// the names and addresses of this run, and the one that removes it.
import { DEFAULT_BRIDGE } from "../cni/conflist";
import { DEFAULT_PREFIX, type LabPlan } from "./labPlan";
import type { PodInstance } from "./pods";
import { SG_IN_CHAIN } from "./securityGroup";

/** The command that removes a lab left up with this prefix. */
export function downCommand(prefix: string): string {
  return `npm run lab -- down${prefix === DEFAULT_PREFIX ? "" : ` --prefix ${prefix}`}`;
}

/** Commands to poke around a kept lab; `pod` finds a running pod by name. */
export function pokeHelp(plan: LabPlan, pod: (name: string) => PodInstance | undefined): string {
  const p = plan.options.prefix;
  const [w1, w2] = plan.workers;
  const shell1 = pod(`shell-${w1.name}`);
  const web2 = pod(`web-${w2.name}`);
  const bridge = DEFAULT_BRIDGE;
  const resolvConf = `${plan.runDir}/pods/shell-${w2.name}/resolv.conf`;
  return [
    `The lab is up (--keep). Namespaces: ip netns list | grep ^${p}-`,
    `  ip netns exec ${p}-router ip route                      # the VPC route table`,
    `  ip netns exec ${w1.netns} ip addr show ${bridge}             # the bridge podnet made`,
    `  ip netns exec ${w1.netns} iptables-save | grep -E 'PODNET|LAB-'`,
    `  ip netns exec ${w1.netns}-shell ip addr show eth0`,
    `  ip netns exec ${w1.netns}-shell ping -c 2 ${web2?.ip ?? "<web-worker-2 IP>"}`,
    `  ip netns exec ${w1.netns}-shell bash -c 'cat </dev/tcp/${web2?.ip ?? "<ip>"}/80'     # the server prints the source it saw`,
    `  ip netns exec ${w1.netns}-shell bash -c 'cat </dev/tcp/${plan.internet.ip}/80'   # arrives as ${w1.ip}`,
    `  ip netns exec ${w1.netns}-web bash -c 'cat </dev/tcp/${plan.services[0].ip}/80'     # service hairpin`,
    `  nsenter --net=/run/netns/${w2.netns}-shell unshare -m sh -c 'mount --bind ${resolvConf} /etc/resolv.conf && getent hosts web'   # DNS as the pod sees it`,
    `  ip netns exec ${plan.admin.netns} bash -c 'cat </dev/tcp/${plan.nodes[0].ip}/22'   # SSH port from admin; from ${plan.internet.netns} it times out`,
    `  ip netns exec ${w1.netns} iptables -t mangle -S ${SG_IN_CHAIN}   # the node security group`,
    `  ip netns exec ${w1.netns} tcpdump -ni ${bridge}            # watch a node's pod traffic`,
    `  ip netns exec ${w1.netns} conntrack -L`,
    `  cat ${w1.logFile}                                     # the plugin's log on ${w1.name}`,
    `  cat ${w1.conflistPath}`,
    shell1
      ? `  (shell-${w1.name} is ${shell1.ip}; its CNI_CONTAINERID is ${shell1.rt.containerId.slice(0, 12)}...)`
      : "",
    `Remove it with: ${downCommand(p)}`,
  ]
    .filter(Boolean)
    .join("\n");
}
