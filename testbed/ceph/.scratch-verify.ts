import { $ } from "zx";
import { cephVerify } from "/work/wt/ceph/testbed/ceph/ceph.ts";

$.verbose = false;
$.quiet = true;
const kc = `${process.env.HOME}/.cache/k8s-ops-conformance/kubernetes-v1.34.12/bin/kubectl`;
const kubectl = async (...a: string[]) => (await $`${kc} --context kind-ceph ${a}`).stdout;
const images = JSON.parse(
  await kubectl("-n", "kube-public", "get", "cm", "k8s-ops-conformance-images", "-o", "jsonpath={.data}"),
);
const t0 = Date.now();
await cephVerify(
  { cluster: "ceph", cache: `${process.env.HOME}/.cache/k8s-ops-conformance`, kubectl, log: console.log },
  images,
);
console.log(`ok ${(Date.now() - t0) / 1000}s`);
