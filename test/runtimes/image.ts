// A container image built on the spot from Debian's busybox-static: nothing is pulled.
// The rootfs tar feeds `podman import`; the same layer wrapped in an OCI image layout
// feeds `ctr image import`.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { must, sh } from "./host";

export const IMAGE_REF = "localhost/pnrt-busybox:latest";

/** The applets the tests run inside containers. */
const APPLETS = ["sh", "ip", "ping", "sleep", "httpd", "mkdir", "echo", "cat", "nc", "hostname"];

/** Debian's busybox-static binary (statically linked, so it runs in an empty rootfs). */
export function busyboxStatic(): string {
  const res = sh(["dpkg", "-L", "busybox-static"]);
  const path = res.status === 0 ? res.stdout.split("\n").find((l) => /\/bin\/busybox$/.test(l)) : undefined;
  if (!path) throw new Error("busybox-static is not installed: run `npm run setup` (apt-get install busybox-static)");
  return path;
}

/** Writes dir/rootfs.tar: /bin/busybox plus applet links; returns its path. */
export function buildRootfsTar(dir: string): string {
  const rootfs = join(dir, "rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  copyFileSync(busyboxStatic(), join(rootfs, "bin", "busybox"));
  for (const applet of APPLETS) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/:/bin/sh\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\n");
  const tar = join(dir, "rootfs.tar");
  must(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", rootfs, "-cf", tar, "."]);
  return tar;
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Wraps the rootfs tar as a one-layer OCI image layout tar named IMAGE_REF. */
export function buildOciArchive(dir: string, rootfsTar: string): string {
  const layout = join(dir, "oci");
  const blobs = join(layout, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer | string) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest), data);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };
  const layer = blob(readFileSync(rootfsTar));
  const config = blob(
    JSON.stringify({
      architecture: process.arch === "arm64" ? "arm64" : "amd64",
      os: "linux",
      config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
      rootfs: { type: "layers", diff_ids: [layer.digest] },
    }),
  );
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    }),
  );
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "io.containerd.image.name": IMAGE_REF, "org.opencontainers.image.ref.name": "latest" },
        },
      ],
    }),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const tmp = join(dir, "image.oci.tar.partial");
  must(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", layout, "-cf", tmp, "."]);
  const out = join(dir, "image.oci.tar");
  renameSync(tmp, out);
  return out;
}
