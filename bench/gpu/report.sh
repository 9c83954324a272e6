# Sourced by bench/gpu/run.sh and proof.sh: `say` prints a line and appends it to $report ($OUT/<name> when OUT is
# set, emptied here first). Set `report_name` before sourcing.
report="${OUT:+$OUT/$report_name}"
[ -n "$report" ] && : >"$report"
say() {
  echo "$*"
  if [ -n "$report" ]; then echo "$*" >>"$report"; fi
}
