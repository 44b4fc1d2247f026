# speechocean762 folder (train/, test/, WAVE/SPEAKERnnnn/). The default is a 115-speaker
# subset kept next to the repository; the full OpenSLR 101 release (WAVE/SPEAKERnnnn/*.WAV
# with the same train/ and test/ Kaldi files) works the same. Override: SPEECHOCEAN762=/path.
SPEECHOCEAN762="${SPEECHOCEAN762:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)/../shared/data/speechocean762_subset}"
