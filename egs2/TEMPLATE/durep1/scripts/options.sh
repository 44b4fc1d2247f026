# Declarative "--name value" options for recipe scripts (source this file).
#
#   source scripts/options.sh
#   durep_usage="Usage: $0 [options]"           # first line of --help
#   durep_opt nj 4 "parallel jobs"               # declares --nj, sets nj=4
#   durep_parse_opts "$@"                        # --nj 8 sets nj=8; --help lists every option
#
# Both "--name value" and "--name=value" work; dashes in names may be written as
# underscores or dashes (--stop-stage == --stop_stage). Unknown options, a missing value
# or a positional argument stop the script with a message pointing at --help.

declare -a _durep_opt_names=()
declare -A _durep_opt_default=()
declare -A _durep_opt_help=()
durep_usage="${durep_usage:-Usage: $0 [options]}"

# durep_opt NAME DEFAULT HELP: declare option --NAME and set variable NAME to DEFAULT.
durep_opt() {
  local name="$1" default="$2" help="$3"
  _durep_opt_names+=("${name}")
  _durep_opt_default["${name}"]="${default}"
  _durep_opt_help["${name}"]="${help}"
  printf -v "${name}" '%s' "${default}"
}

durep_print_help() {
  local name
  echo "${durep_usage}"
  echo
  echo "Options (default in brackets):"
  for name in "${_durep_opt_names[@]}"; do
    printf '  --%-24s %s [%s]\n' "${name}" "${_durep_opt_help[${name}]}" "${_durep_opt_default[${name}]}"
  done
}

durep_parse_opts() {
  local name value
  while [ "$#" -gt 0 ]; do
    case "$1" in
      -h|--help) durep_print_help; exit 0 ;;
      --*=*) name="${1%%=*}"; value="${1#*=}"; shift ;;
      --*)
        name="$1"
        if [ "$#" -lt 2 ]; then
          echo "ERROR: option ${name} needs a value (see --help)" >&2; exit 2
        fi
        value="$2"; shift 2 ;;
      *) echo "ERROR: unexpected argument '$1': options are '--name value' (see --help)" >&2; exit 2 ;;
    esac
    name="${name#--}"; name="${name//-/_}"
    if [ -z "${_durep_opt_default[${name}]+set}" ]; then
      echo "ERROR: unknown option --${name} (see --help)" >&2; exit 2
    fi
    printf -v "${name}" '%s' "${value}"
  done
}
