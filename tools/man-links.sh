#!/bin/sh
# For each section-3 page given, write a one-line ".so" page for every
# other name in its NAME section (the .Nm lines), so `man NAME` finds it.
set -eu
for page in "$@"; do
	base=$(basename "$page")
	dir=$(dirname "$page")
	sec=$(basename "$dir")
	sed -n '/^\.Sh NAME/,/^\.Sh /s/^\.Nm \([a-z_0-9]*\).*/\1/p' "$page" |
	while read -r name; do
		[ "$name.3" = "$base" ] && continue
		printf '.so %s/%s\n' "$sec" "$base" > "$dir/$name.3"
	done
done
