#!/bin/sh
# usage: mkdist.sh DIR NAME VERSION  -> DIR/NAME-VERSION.dist-info/{METADATA,INSTALLER}
d="$1/$2-$3.dist-info"; mkdir -p "$d"
printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$2" "$3" > "$d/METADATA"
echo hfenv > "$d/INSTALLER"
