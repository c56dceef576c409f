#!/usr/bin/env bash
# `make run`: makes a sample dataset and previews segments from real campaign
# use cases with `segd query`. The clock is pinned to the generator's "today"
# so the relative windows ("last 7 days") always find people.
set -euo pipefail
build=${1:-build}
segd="$build/tools/segd"
profiles=${SEGD_DEMO_PROFILES:-100000}
data=data/sample-$profiles.ndjson
now=2026-11-20T12:00:00Z

mkdir -p data
if [ ! -s "$data" ]; then
  echo "Generating $profiles profiles into $data ..."
  "$segd" gen --profiles "$profiles" --seed 42 --out "$data"
fi

show() {
  local title=$1 rule=$2
  echo
  echo "== $title"
  echo "   rule: $rule"
  "$segd" query --load "$data" --now "$now" --limit 3 --rule "$rule"
}

show "Leads in Pune, Mumbai or Nagpur who signed up in the last 7 days" \
  '{"all":[{"field":"customer_type","op":"eq","value":"lead"},
           {"field":"city","op":"in","value":["Pune","Mumbai","Nagpur"]},
           {"field":"signed_up","op":"within_last","value":"7d"}]}'
show "Customers with 5+ orders tagged vip" \
  '{"all":[{"field":"orders","op":"gte","value":5},{"field":"tags","op":"eq","value":"vip"}]}'
show "Abandoned a cart in the last 48 hours and no WhatsApp reply for 15 days" \
  '{"all":[{"event":"cart_abandoned","within_last":"48h"},
           {"event":"replied_whatsapp","within_last":"15d","count":{"lt":1}}]}'
show "High-intent: visited pricing and requested a demo this month, not churned" \
  '{"all":[{"event":"visited_pricing_page","within_last":"30d"},
           {"event":"requested_demo","within_last":"30d"},
           {"not":{"field":"lifecycle","op":"eq","value":"churned"}}]}'
show "Gmail users named Patil (contains, case-folded)" \
  '{"all":[{"field":"email","op":"contains","value":"@gmail"},{"field":"name","op":"contains","value":"patil"}]}'
