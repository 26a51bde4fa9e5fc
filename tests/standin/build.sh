#!/usr/bin/env bash
# Build the Mathesar TEST DOUBLE release archive.
#   build.sh VERSION OUTPUT_TARBALL [--migration-extra] [--broken-migration]
# A VERSION starting with "0.11." builds the 0.11 variant (variants/0.11/:
# django-storages[azure] in requirements.txt, the 0.11 settings, migration
# 0003_username_max_63); any other VERSION builds the 0.10 one (0.10.1).
# Entries sit at the archive root (bin/mathesar, manage.py, ...), like the real
# mathesar.tar.gz. Same inputs give a byte-identical archive (same sha256).
set -euo pipefail

usage() { echo "usage: $0 VERSION OUTPUT_TARBALL [--migration-extra] [--broken-migration]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
version="$1" out="$2"; shift 2
extra=false broken=false
for opt in "$@"; do
  case "${opt}" in
    --migration-extra) extra=true ;;
    --broken-migration) broken=true ;;
    *) usage ;;
  esac
done
[[ "${version}" =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "bad VERSION: ${version}" >&2; exit 2; }
variant=0.10
[[ "${version}" == 0.11.* ]] && variant=0.11

here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
root="${tmp}/root"

mkdir -p "${root}"
# Copy the sources without caches or local settings.
tar -C "${here}/src" --exclude=__pycache__ --exclude='*.pyc' \
    --exclude=config/settings/local.py --exclude=.secrets --exclude=.media \
    --exclude=static -cf - . | tar -C "${root}" -xf -
# Only the app's own static folder is shipped (the top-level static/ is
# STATIC_ROOT, made by collectstatic), so copy it back explicitly.
mkdir -p "${root}/mathesar/static"
cp -R "${here}/src/mathesar/static/." "${root}/mathesar/static/"

sed -i "s/^__version__ = .*/__version__ = \"${version}\"/" "${root}/mathesar/__init__.py"
mkdir -p "${root}/mathesar/static/mathesar/assets"
# Seeded by the minor release: another release, another bundle (and hashed name), as with the real one.
python3 "${here}/gen_bundle.py" "${root}/mathesar/static/mathesar/assets/main.js" "mathesar-standin-${variant}"

previous=0002_database_nickname
if [[ "${extra}" == true ]]; then
  cp -R "${here}/variants/migration-extra/." "${root}/"
  previous=0002_standin_extra
fi
if [[ "${variant}" == 0.11 ]]; then
  # mathesar/standin_variant.py says "0.11" (the settings read the 0.11 variables).
  cp -R "${here}/variants/0.11/overlay/." "${root}/"
  cat "${here}/variants/0.11/requirements-add.txt" >> "${root}/requirements.txt"
  sed "s/@PREVIOUS@/${previous}/" "${here}/variants/0.11/0003_username_max_63.py.in" \
    > "${root}/mathesar/migrations/0003_username_max_63.py"
  previous=0003_username_max_63
fi
if [[ "${broken}" == true ]]; then
  sed "s/@PREVIOUS@/${previous}/" "${here}/variants/broken_migration.py.in" \
    > "${root}/mathesar/migrations/0099_standin_broken.py"
fi

# Variant files are copied as they are: drop caches a local run left there.
find "${root}" -name __pycache__ -prune -exec rm -rf {} +
find "${root}" -name '*.pyc' -delete

# Normalise modes so the umask of the builder does not change the checksum.
find "${root}" -type d -exec chmod 755 {} +
find "${root}" -type f -exec chmod 644 {} +
chmod 755 "${root}/bin/mathesar" "${root}/manage.py"

mkdir -p "$(dirname "${out}")"
(cd "${root}" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) > "${tmp}/entries"
LC_ALL=C tar -C "${root}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf - -T "${tmp}/entries" | gzip -n -9 > "${out}"

echo "${out}"
sha256sum "${out}" | cut -d' ' -f1
