// Mocha root hooks, loaded for every test file (.mocharc.json "require").
//
// dist/podnet's shebang runs the first `bun` on PATH after /opt/podnet/bin (where the image
// installs it): the tests put the pinned Bun from node_modules first on PATH, inherited by
// everything they start (the plugin, podman, ctr and containerd), so every test execs the
// bundle with the runtime nodes run it with.
import { pathWithBun } from "../lab/bun";

let savedPath: string | undefined;

export const mochaHooks = {
  beforeAll(): void {
    savedPath = process.env.PATH;
    process.env.PATH = pathWithBun(savedPath);
  },
  afterAll(): void {
    process.env.PATH = savedPath;
  },
};
