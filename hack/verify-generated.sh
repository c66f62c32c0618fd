#!/usr/bin/env bash
# Regenerates deepcopy code, CRDs, RBAC and the Helm chart in a scratch copy
# of the tree and fails when they differ from what is committed, so stale
# generated files never land (and the chart never drifts from config/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CONTROLLER_GEN:?set CONTROLLER_GEN to the controller-gen binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^bin/' | xargs -0 cp --parents -t "$tmp" 2>/dev/null) || true
cd "$tmp"
"$CONTROLLER_GEN" object paths=./api/...
"$CONTROLLER_GEN" crd rbac:roleName=blue-operator paths=./api/... paths=./controllers/... \
  output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
# The Helm chart from config/ (as regenerated above) and deploy/monitoring.
go run ./hack/helmchart
status=0
for d in config/crd/bases config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go deploy/helm/blue-operator; do
  if ! diff -ru "$root/$d" "$tmp/$d"; then status=1; fi
done
if [[ $status -ne 0 ]]; then
  echo "generated files are stale: run 'make generate manifests' (which runs 'make helm') and commit the result" >&2
fi
exit $status
