#!/usr/bin/env bash
# Builds the Debian package from a staged tree with dpkg-deb (no tool to install: cargo-deb
# would cost a crates.io build of its own on every fresh CI machine, and the tree below shows
# every file the package holds).
#
#   scripts/build-deb.sh [--binary PATH] [--version V] [--out DIR]
#
# --binary: the pointsman binary to package (default: `cargo build --release`'s).
# --version: the package version (default: Cargo.toml's); scripts/package-smoke.sh builds a
#            second one to upgrade to.
# --out: where the .deb goes (default: target/debian). Prints the .deb's path last.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out=target/debian
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    cargo build --release --bin pointsman >&2
    binary=target/release/pointsman
fi
arch=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/pointsman-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# The files, where Debian puts them.
install -D -m 755 "$binary" "$stage/usr/sbin/pointsman"
strip --strip-debug "$stage/usr/sbin/pointsman"
install -D -m 644 configs/debian/pointsman.cfg "$stage/etc/pointsman/pointsman.cfg"
install -D -m 644 configs/debian/default "$stage/etc/default/pointsman"
install -D -m 644 configs/debian/pointsman.service "$stage/lib/systemd/system/pointsman.service"
generated="$stage/generated"
"$stage/usr/sbin/pointsman" generate-manuals "$generated" >/dev/null
install -D -m 644 "$generated/man/pointsman.1" "$stage/usr/share/man/man1/pointsman.1"
install -D -m 644 "$generated/man/pointsman.cfg.5" "$stage/usr/share/man/man5/pointsman.cfg.5"
gzip -9n "$stage/usr/share/man/man1/pointsman.1" "$stage/usr/share/man/man5/pointsman.cfg.5"
install -D -m 644 "$generated/completions/pointsman.bash" \
    "$stage/usr/share/bash-completion/completions/pointsman"
install -D -m 644 "$generated/completions/_pointsman" \
    "$stage/usr/share/zsh/vendor-completions/_pointsman"
rm -rf "$generated"
doc="$stage/usr/share/doc/pointsman"
install -D -m 644 README.md "$doc/README.md"
for page in docs/*.md; do
    install -D -m 644 "$page" "$doc/$(basename "$page")"
done
install -D -m 644 configs/debian/copyright "$doc/copyright"

# The control files.
mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    configs/debian/control > "$stage/DEBIAN/control"
install -m 644 configs/debian/conffiles "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 755 "configs/debian/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' \
    | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/pointsman_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >&2
echo "$deb"
