# bench/download.sh — scenario d of bench/run.sh (sourced by it; not run on its own): small
# downloads (issue 17). One 4 KiB file uploaded to upgate and written into nginx's root; then
# wrk --latency, 64 connections, against
#   d1  upgate's native API: GET /v1/files/{id}/content with the API key (Bearer)
#   d2  upgate's signed link: GET /v1/links/{tenant}/{id}?expires=&signature= (no key), the
#       download URL the Jodoo and OpenIM dialects hand out
#   d3  kintone: GET /k/v1/file.json?fileKey= of a record's attachment, X-Cybozu-API-Token
#   d4  one 1 GiB GET (64 MiB with BENCH_QUICK=1) of the native content with curl, MiB/s,
#       beside nginx's GET of the same file (sendfile on both sides)
# and nginx serving the same bytes from disk (static file), in alternating rounds
# (BENCH_DOWNLOAD_ROUNDS, default 3; BENCH_DOWNLOAD_SECONDS each, default 5, 2 with
# BENCH_QUICK=1). Reported: medians over the rounds of req/s, p50 and p99, as ratios, and
# each server's CPU per request (upgate's threads; nginx's master and workers).
# Goals (issue 17): req/s >= 1.0x nginx, p99 <= 2x nginx's.

declare -A DL  # "<scenario>,<column>,<metric>": list of per-round figures, space-separated

# wrk's figure in ms from "1.23ms", "456.00us", "1.20s".
dl_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else print "?" }'
}

# dl_wrk key column url [wrk args...]: one wrk run, its req/s, p50 and p99 appended to DL.
dl_wrk() {
  local key=$1 col=$2 url=$3; shift 3
  local log="$TMP/wrk-$key-$col.log" ticks0
  ticks0=$(server_ticks "$col")
  wrk -t2 -c64 -d"${DL_SECONDS}s" --latency "$@" "$url" >"$log" 2>&1 || true
  local rps p50 p99 bad cpu=""
  # The server's CPU (user + system, all threads or workers) per request:
  # steadier than req/s on a loaded machine. Clock ticks (usually 10 ms) over
  # thousands of requests.
  cpu=$(awk -v t=$(($(server_ticks "$col") - ticks0)) -v hz="$(getconf CLK_TCK)" \
    -v n="$(awk '/requests in/ { print $1 }' "$log")" 'BEGIN { if (n > 0 && t > 0) printf "%.1f", t * 1e6 / hz / n }')
  [[ -n "$cpu" ]] && DL[$key,$col,cpu]+="$cpu "
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$log")
  p50=$(dl_ms "$(awk '$1 == "50%" { print $2 }' "$log")")
  p99=$(dl_ms "$(awk '$1 == "99%" { print $2 }' "$log")")
  # Non-2xx answers and socket errors make the figure worthless: say so.
  bad=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { n += 1 } END { print n + 0 }' "$log")
  [[ -z "$rps" ]] && { DL[$key,$col,err]="wrk failed"; ANY_ERRORS=1; return 0; }
  [[ "$bad" != 0 ]] && { DL[$key,$col,err]="errors"; ANY_ERRORS=1; sed 's/^/   /' "$log"; }
  DL[$key,$col,rps]+="$rps "
  DL[$key,$col,p50]+="$p50 "
  DL[$key,$col,p99]+="$p99 "
  echo "   $key/$col: $rps req/s, p50 $p50 ms, p99 $p99 ms${cpu:+, $col CPU $cpu us/request}"
}

dl_median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }

run_download() {
  command -v wrk >/dev/null || { echo "-- d: skipped, wrk not installed (apt-get install wrk)"; DL[d1,upgate,err]="no wrk"; return 0; }
  DL_SECONDS=${BENCH_DOWNLOAD_SECONDS:-$([[ $QUICK == 1 ]] && echo 2 || echo 5)}
  local rounds=${BENCH_DOWNLOAD_ROUNDS:-3} file="$TMP/dl-4k.bin" auth="Authorization: Bearer $UPGATE_KEY"
  head -c 4096 /dev/urandom >"$file"
  mkdir -p "$NGX/www/dl" && cp "$file" "$NGX/www/dl/4k.bin"
  echo "-- d: 4 KiB GET x64 (wrk --latency, ${DL_SECONDS} s, $rounds rounds)"
  if ! start_upgate d; then
    UPGATE_OK=0; DL[d1,upgate,err]="upgate did not start"; return 0
  fi
  local base="http://127.0.0.1:$UPGATE_PORT" id link
  id=$(curl -fsS -H "$auth" --data-binary "@$file" "$base/v1/files?name=4k.bin" | jq -r .id)
  link=$(curl -fsS -X POST -H "$auth" "$base/v1/files/$id/link?ttl=3600" | jq -r .url)
  link="$base/${link#*://*/}"  # the path only: public_url may name another host
  local ktok kfile
  read -r ktok kfile < <(dl_kintone_setup "$base" "$file") || true
  # Warm-up, not counted: the first seconds of either server are slower (caches, pools).
  wrk -t2 -c64 -d1s "http://127.0.0.1:$NGINX_PORT/dl/4k.bin" >/dev/null 2>&1 || true
  wrk -t2 -c64 -d1s -H "$auth" "$base/v1/files/$id/content" >/dev/null 2>&1 || true
  for r in $(seq "$rounds"); do
    dl_wrk d1 nginx "http://127.0.0.1:$NGINX_PORT/dl/4k.bin" -H "$auth"
    dl_wrk d1 upgate "$base/v1/files/$id/content" -H "$auth"
    dl_wrk d2 upgate "$link"
    if [[ -n "$kfile" ]]; then
      dl_wrk d3 upgate "$base/k/v1/file.json?fileKey=$kfile" -H "X-Cybozu-API-Token: $ktok"
    else
      DL[d3,upgate,err]="set-up failed"
    fi
  done
  dl_large "$base" "$auth"
  stop_upgate
}

# d4: one large file on both servers, then alternating curl GETs of it; MiB/s into DL.
dl_large() {
  local base=$1 auth=$2 big="$NGX/www/dl/big.bin" id mibps
  head -c "$SINGLE_SIZE" /dev/urandom >"$big"
  id=$(curl -fsS -X POST -H "$auth" -T "$big" "$base/v1/files?name=big.bin" | jq -r .id) || id=""
  [[ -z "$id" || "$id" == null ]] && { DL[d4,upgate,err]="upload failed"; rm -f "$big"; return 0; }
  for r in $(seq "${BENCH_DOWNLOAD_ROUNDS:-3}"); do
    for col in nginx upgate; do
      local url="http://127.0.0.1:$NGINX_PORT/dl/big.bin"
      [[ $col == upgate ]] && url="$base/v1/files/$id/content"
      mibps=$(curl -fsS -o /dev/null -H "$auth" -w '%{speed_download}' "$url" |
        awk '{ printf "%.0f", $1 / 1048576 }') || { DL[d4,$col,err]="failed"; ANY_ERRORS=1; continue; }
      DL[d4,$col,mibps]+="$mibps "
      echo "   d4/$col: $mibps MiB/s"
    done
  done
  rm -f "$big"
}

# A kintone app with a FILE field, an API token, one record holding the 4 KiB file (set up
# with the CLI on the running server's data dir, as the README does); prints token and the
# record's fileKey (kintone downloads attached files only).
dl_kintone_setup() {
  local base=$1 file=$2 data="$TMP/upgate-data-d" tok up rec
  "$UPGATE" apps create 1 --tenant default --dialect kintone --data "$data" \
    --settings '{"fields":[{"code":"attachment","type":"FILE","label":"File"}]}' >/dev/null || return 1
  tok=$("$UPGATE" kintone tokens create --tenant default --app 1 --permissions view,add --data "$data" | jq -r .token)
  up=$(curl -fsS -H "X-Cybozu-API-Token: $tok" -F "file=@$file;filename=4k.bin" "$base/k/v1/file.json" | jq -r .fileKey)
  rec=$(curl -fsS -H "X-Cybozu-API-Token: $tok" -H 'Content-Type: application/json' \
    -d "{\"app\":1,\"record\":{\"attachment\":{\"value\":[{\"fileKey\":\"$up\"}]}}}" "$base/k/v1/record.json" | jq -r .id)
  echo "$tok $(curl -fsS -H "X-Cybozu-API-Token: $tok" "$base/k/v1/record.json?app=1&id=$rec" |
    jq -r '.record.attachment.value[0].fileKey')"
}

dl_row() {  # key label
  local key=$1 n u
  for m in rps p50 p99; do
    n=$(dl_median "${DL[d1,nginx,$m]:-}"); u=$(dl_median "${DL[$key,upgate,$m]:-}")
    printf -v "dl_$m" '%s' "$n | $u | $(awk -v n="$n" -v u="$u" 'BEGIN { if (n > 0 && u != "?") printf "%.2f", u / n; else print "n/a" }')"
  done
  row "$2 req/s" "${dl_rps%% | *}" "$(cut -d'|' -f2 <<<"$dl_rps" | tr -d ' ')${DL[$key,upgate,err]:+ (${DL[$key,upgate,err]})}" "${dl_rps##* | }"
  row "   p50 ms" "${dl_p50%% | *}" "$(cut -d'|' -f2 <<<"$dl_p50" | tr -d ' ')" "${dl_p50##* | }"
  row "   p99 ms" "${dl_p99%% | *}" "$(cut -d'|' -f2 <<<"$dl_p99" | tr -d ' ')" "${dl_p99##* | } (goal <= 2)"
  n=$(dl_median "${DL[d1,nginx,cpu]:-}"); u=$(dl_median "${DL[$key,upgate,cpu]:-}")
  row "   CPU us/request" "$n" "$u" "$(awk -v n="$n" -v u="$u" 'BEGIN { if (n > 0 && u != "?") printf "%.2f", u / n; else print "n/a" }')"
}

print_download() {
  echo
  echo "== small downloads (d), medians of ${BENCH_DOWNLOAD_ROUNDS:-3} alternating rounds, wrk -t2 -c64"
  row "scenario" "nginx (static file)" "upgate" "ratio upgate/nginx"
  row "----------------------------------------" "--------------------" "--------------------" "------------------"
  dl_row d1 "d1) 4 KiB GET, API key"
  dl_row d2 "d2) 4 KiB GET, signed link"
  dl_row d3 "d3) 4 KiB GET, kintone file.json"
  local n u
  n=$(dl_median "${DL[d4,nginx,mibps]:-}"); u=$(dl_median "${DL[d4,upgate,mibps]:-}")
  row "d4) 1 x $SINGLE_LABEL GET, curl (MiB/s)" "$n${DL[d4,nginx,err]:+ (${DL[d4,nginx,err]})}" \
    "$u${DL[d4,upgate,err]:+ (${DL[d4,upgate,err]})}" \
    "$(awk -v n="$n" -v u="$u" 'BEGIN { if (n > 0 && u != "?") printf "%.2f", u / n; else print "n/a" }')"
  echo "per round (req/s): nginx ${DL[d1,nginx,rps]:-} | d1 ${DL[d1,upgate,rps]:-} | d2 ${DL[d2,upgate,rps]:-} | d3 ${DL[d3,upgate,rps]:-}"
}
