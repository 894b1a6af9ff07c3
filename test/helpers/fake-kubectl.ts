// fakeCluster.ts as a kubectl executable, for running the bundled verifier as a process:
// the state lives in the JSON file $FAKE_CLUSTER, every call is appended to $FAKE_CLUSTER.calls.
// $FAKE_EXEC_DELAY_MS makes every `kubectl exec` take that long (to interrupt a run).
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { answer, type FakeState } from "./fakeCluster";

const file = process.env.FAKE_CLUSTER;
if (!file) {
  process.stderr.write("fake kubectl: FAKE_CLUSTER is not set\n");
  process.exit(2);
}
const args = process.argv.slice(2);
appendFileSync(`${file}.calls`, `${JSON.stringify(args)}\n`);
const state = JSON.parse(readFileSync(file, "utf8")) as FakeState;
const verb = args.find((a) => !a.startsWith("--kubeconfig"));
const delay = Number(process.env.FAKE_EXEC_DELAY_MS ?? 0);
if (verb === "exec" && delay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
const result = answer(state, args, verb === "apply" ? readFileSync(0, "utf8") : "");
if (verb === "apply" || verb === "delete") {
  writeFileSync(`${file}.tmp`, JSON.stringify(state));
  renameSync(`${file}.tmp`, file);
}
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.status;
