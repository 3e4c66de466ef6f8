#!/usr/bin/env bash
# Vendors the NL Design System's built CSS into crates/kring-server/static/nlds/: the
# component library of the Utrecht community (used across Dutch municipalities) and its design
# tokens, both EUPL-1.2, at the versions pinned below. The pages use these components and
# write no component CSS of their own. To update: change the versions, run this script, look
# at the pages (the browser tests take screenshots), commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPONENTS="@utrecht/component-library-css@9.0.4"
TOKENS="@utrecht/design-tokens@5.0.1"
OUT="crates/kring-server/static/nlds"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$COMPONENTS" "$TOKENS" >/dev/null)
mkdir -p "$work/components" "$work/tokens" "$OUT"
tar xzf "$work"/utrecht-component-library-css-*.tgz -C "$work/components"
tar xzf "$work"/utrecht-design-tokens-*.tgz -C "$work/tokens"
cp "$work/components/package/dist/index.css" "$OUT/components.css"
cp "$work/components/package/dist/html.css" "$OUT/html.css"
cp "$work/tokens/package/dist/theme.css" "$OUT/tokens.css"
cp "$work/components/package/LICENSE.md" "$OUT/LICENSE.md"
cat > "$OUT/VERSIONS" <<VERSIONS
$COMPONENTS (dist/index.css → components.css, dist/html.css → html.css)
$TOKENS (dist/theme.css → tokens.css)
Licence: EUPL-1.2 (LICENSE.md). Vendored by scripts/vendor-nlds.sh; do not edit by hand.
VERSIONS
echo "NL Design System CSS vendored into $OUT:"
cat "$OUT/VERSIONS"
