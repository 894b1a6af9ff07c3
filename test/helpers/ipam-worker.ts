// A separate process that reserves addresses, so the IPAM test races real processes.
// argv: dataDir network subnet containerPrefix count
import { IpamStore } from "../../cni/ipam";
import { parseCidr } from "../../cni/ipv4";

const [dataDir, network, subnet, prefix, count] = process.argv.slice(2);
const store = new IpamStore(dataDir, network, parseCidr(subnet));
const got: string[] = [];
const errors: string[] = [];
for (let i = 0; i < Number(count); i++) {
  try {
    got.push(store.allocate(`${prefix}-${i}`, "eth0").ip);
  } catch (e) {
    errors.push((e as Error).message);
  }
}
process.stdout.write(JSON.stringify({ got, errors }));
